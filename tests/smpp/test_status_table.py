from smsc.smpp import gen_status, status


def test_status_module_is_generated_from_the_tsv():
    assert gen_status.main(["--check"]) == 0


def test_every_row_is_exported_with_its_value():
    rows = gen_status.read_table()
    assert len(rows) == len(status.STATUS) >= 40
    for name, value, _ in rows:
        assert getattr(status, name) == value
        assert status.status_name(value) == name
    assert status.status_name(0x12345) == "0x00012345"


def test_parse_status_takes_names_and_numbers():
    assert status.parse_status("ESME_RTHROTTLED") == status.parse_status("esme_rthrottled") == 0x58
    assert status.parse_status("0x45") == status.parse_status("69") == status.parse_status(69) == 0x45
    import pytest

    with pytest.raises(ValueError):
        status.parse_status("ESME_RNOSUCH")
