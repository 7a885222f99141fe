from ._hashlib_wrapper import HashObject

digest_size = 32
block_size = 64
oid = "2.16.840.1.101.3.4.2.1"
_hashlib_name = "sha256"

SHA256Hash = HashObject


def new(data: bytes | None = None) -> HashObject:
    return HashObject(_hashlib_name, oid, data)
