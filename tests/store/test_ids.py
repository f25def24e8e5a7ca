from smsc.store.ids import IdGenerator, format_id, parse_id


def test_ids_above_sqlite_integer_range_are_not_ours():
    # An id a client made up must read as unknown, not overflow SQLite's signed 64 bits.
    assert parse_id("ffffffffffffffff") is None
    assert parse_id("8000000000000000") is None
    assert parse_id("7fffffffffffffff") == (1 << 63) - 1


def test_issued_ids_parse_back():
    generator = IdGenerator()
    number = generator.next(1_800_000_000.0)
    assert parse_id(format_id(number)) == number
