import pytest

from smsc.passwords import hash_password, is_valid_hash, parse_hash, verify_password


@pytest.fixture(scope="module")
def stored():
    return hash_password("s3cret!é")


def test_right_password_matches(stored):
    assert verify_password("s3cret!é", stored)


@pytest.mark.parametrize("attempt", ["s3cret!e", "s3cret!é ", "", "S3CRET!É"])
def test_wrong_password_does_not_match(stored, attempt):
    assert not verify_password(attempt, stored)


def test_hash_carries_its_parameters_and_a_fresh_salt(stored):
    n, r, p, salt, digest = parse_hash(stored)
    assert (n, r, p) == (2**14, 8, 1)
    assert len(salt) == 16 and len(digest) == 32
    assert parse_hash(hash_password("s3cret!é"))[3] != salt


def test_verification_follows_the_parameters_in_the_string():
    # An entry hashed with cheaper parameters keeps verifying after the defaults change.
    import hashlib

    from smsc.passwords import _b64

    digest = hashlib.scrypt(b"pw", salt=b"salt", n=16, r=1, p=1, dklen=20)
    stored = f"scrypt$16$1$1${_b64(b'salt')}${_b64(digest)}"
    assert verify_password("pw", stored)
    assert not verify_password("pW", stored)


@pytest.mark.parametrize(
    "bad",
    ["", "plaintext", "scrypt$16384$8$1$c2FsdA", "bcrypt$1$2$3$c2FsdA$aGFzaA",
     "scrypt$1000$8$1$c2FsdA$aGFzaA", "scrypt$x$8$1$c2FsdA$aGFzaA", "scrypt$16$8$1$$aGFzaA"],
)
def test_malformed_hash_is_invalid_and_never_matches(bad):
    assert not is_valid_hash(bad)
    assert not verify_password("plaintext", bad)


def test_cli_hash_password_reads_stdin_when_piped(monkeypatch, capsys):
    import io

    from smsc.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("pa ss\n"))
    assert main(["hash-password"]) == 0
    out, err = capsys.readouterr()
    assert is_valid_hash(out.strip()) and verify_password("pa ss", out.strip()) and err == ""
    monkeypatch.setattr("sys.stdin", io.StringIO("ninechars\n"))
    assert main(["hash-password"]) == 0
    out, err = capsys.readouterr()
    assert verify_password("ninechars", out.strip()) and "at most 8 characters" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["hash-password"]) == 1
