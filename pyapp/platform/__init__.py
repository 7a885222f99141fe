"""The demo community platform (tenants, users, events, groups, memberships) the chat embeds in."""
