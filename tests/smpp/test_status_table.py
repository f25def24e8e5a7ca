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
