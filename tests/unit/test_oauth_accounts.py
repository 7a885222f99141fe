import pytest

from pyapp.server.accounts import (
    AccountError, MemoryDirectory, PlatformDirectory, check_password, hash_password,
    parse_login_name,
)


@pytest.mark.parametrize("typed, expected", [
    ("alice@acme", ("alice", "acme")),
    ("@alice_acme:localhost", ("alice", "acme")),
    ("alice_acme", ("alice", "acme")),
    (" Alice@ACME ", ("alice", "acme")),
])
def test_login_names(typed, expected):
    assert parse_login_name(typed) == expected


def test_bare_slug_needs_a_default_tenant():
    assert parse_login_name("bob", "demo") == ("bob", "demo")
    with pytest.raises(AccountError):
        parse_login_name("bob")
    with pytest.raises(AccountError):
        parse_login_name("no spaces@acme")


def test_password_hashes_verify_and_differ_per_salt():
    h = hash_password("s3cret-pw")
    assert check_password("s3cret-pw", h) and not check_password("other", h)
    assert hash_password("s3cret-pw") != h
    assert not check_password("x", None)


async def test_memory_directory():
    d = MemoryDirectory()
    d.add("alice", "acme", "pw-alice-1", "Alice")
    assert (await d.verify("acme", "alice", "pw-alice-1")).localpart == "alice_acme"
    assert await d.verify("acme", "alice", "wrong") is None
    with pytest.raises(AccountError, match="taken"):
        await d.register("acme", "alice", "another-pw", None)


class FakePlatform:
    def __init__(self):
        self.users = {("acme", "carol"): ("pw-carol-1", "Carol")}

    def verify_password(self, tenant, slug, password):
        return self.users.get((tenant, slug), (None,))[0] == password

    def user(self, tenant, slug):
        if (tenant, slug) not in self.users:
            raise LookupError("no user")
        return {"display_name": self.users[(tenant, slug)][1]}

    def create_user(self, tenant, slug, display_name=None, password=None):
        self.users[(tenant, slug)] = (password, display_name or slug)
        return {"display_name": display_name or slug}


async def test_platform_directory_uses_the_platform_checks():
    d = PlatformDirectory(FakePlatform())
    account = await d.verify("acme", "carol", "pw-carol-1")
    assert account.localpart == "carol_acme" and account.display_name == "Carol"
    assert await d.verify("acme", "carol", "nope") is None
    with pytest.raises(AccountError, match="platform"):
        await d.register("acme", "dan", "long-enough", None)
    d.allow_register = True
    assert (await d.register("acme", "dan", "long-enough", "Dan")).localpart == "dan_acme"
