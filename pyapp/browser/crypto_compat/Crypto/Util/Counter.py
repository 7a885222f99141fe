"""CTR counter description, the same dictionary pycryptodome's Counter.new returns."""


def new(nbits: int, prefix: bytes = b"", suffix: bytes = b"", initial_value: int = 1,
        little_endian: bool = False, allow_wraparound: bool = False) -> dict:
    if (nbits % 8) != 0:
        raise ValueError("'nbits' must be a multiple of 8")
    iv_bl = initial_value.bit_length()
    if iv_bl > nbits:
        raise ValueError(f"Initial value takes {iv_bl} bits but it is longer than the counter ({nbits} bits)")
    return {
        "counter_len": nbits // 8,
        "prefix": bytes(prefix),
        "suffix": bytes(suffix),
        "initial_value": initial_value,
        "little_endian": little_endian,
    }
