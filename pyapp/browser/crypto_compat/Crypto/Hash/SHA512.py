from ._hashlib_wrapper import HashObject

digest_size = 64
block_size = 128
oid = "2.16.840.1.101.3.4.2.3"
_hashlib_name = "sha512"

SHA512Hash = HashObject


def new(data: bytes | None = None, truncate: str | None = None) -> HashObject:
    if truncate is not None:
        raise ValueError("SHA-512/t is not provided by this compatibility layer")
    return HashObject(_hashlib_name, oid, data)
