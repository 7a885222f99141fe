"""Mentions as pure functions: the @query at the caret, matching members, inserting a pill,
the content it sends (body, matrix.to link, m.mentions) and reading whether I am mentioned."""

from pyapp.client import mentions as m
from pyapp.client.mentions import Pill

MEMBERS = {"@bob_demo:hs": "Bob", "@bobby_demo:hs": "Bobby Tables", "@carol_demo:hs": "Carol",
           "@emile_demo:hs": "Émile Zola", "@alice_demo:hs": "Alice", "@dave_demo:hs": ""}


def test_query_at_caret_starts_at_a_word():
    assert m.query_at("hi @bo", 6) == m.Query(3, 6, "bo")
    assert m.query_at("@", 1) == m.Query(0, 1, "")
    assert m.query_at("(@car", 5).text == "car"
    assert m.query_at("mail me at a@bo", 15) is None  # an e-mail address
    assert m.query_at("@bob\nhi", 7) is None
    assert m.query_at("hi @bob", 2) is None  # caret before the @
    assert m.query_at("@Bobby Ta", 9).text == "Bobby Ta"
    assert m.query_at("@ bob", 5) is None
    assert m.query_at("x", 5) is None


def test_suggestions_rank_name_prefix_then_word_then_localpart():
    names = [p.name for p in m.suggestions(MEMBERS, "bo")]
    assert names == ["Bob", "Bobby Tables"]
    assert [p.name for p in m.suggestions(MEMBERS, "tab")] == ["Bobby Tables"]
    assert [p.name for p in m.suggestions(MEMBERS, "emile")] == ["Émile Zola"]
    assert [p.user_id for p in m.suggestions(MEMBERS, "dave")] == ["@dave_demo:hs"]
    assert m.suggestions(MEMBERS, "dave")[0].name == "dave_demo"  # no display name
    assert "@alice_demo:hs" not in [p.user_id for p in m.suggestions(
        MEMBERS, "", exclude={"@alice_demo:hs"})]
    assert len(m.suggestions(MEMBERS, "", limit=3)) == 3
    assert m.suggestions(MEMBERS, "zzz") == []


def test_names_with_controls_are_cleaned_for_the_composer():
    pill = m.suggestions({"@x:hs": "Ev\u202eil\nName"}, "ev")[0]
    assert pill.name == "Evil Name"


def test_insert_replaces_the_query_with_the_pill_and_a_space():
    text = "hi @bo how"
    q = m.query_at(text, 6)
    new, caret = m.insert(text, q, Pill("@bob_demo:hs", "Bob"))
    assert new == "hi @Bob how" and caret == 8
    new, caret = m.insert("@b", m.query_at("@b", 2), Pill("@bob_demo:hs", "Bob"))
    assert new == "@Bob " and caret == 5


def test_content_with_a_pill_links_it_and_names_the_user():
    bob = Pill("@bob_demo:hs", "Bob")
    content = m.message_content("@Bob hello", [bob])
    assert content == {
        "msgtype": "m.text", "body": "@Bob hello", "format": "org.matrix.custom.html",
        "formatted_body": '<a href="https://matrix.to/#/@bob_demo:hs">Bob</a> hello',
        "m.mentions": {"user_ids": ["@bob_demo:hs"]}}


def test_content_keeps_markdown_around_pills_and_escapes_names():
    bob, evil = Pill("@bob_demo:hs", "Bob"), Pill("@e:hs", "<b>x</b>")
    content = m.message_content("**hi** @Bob and @<b>x</b>\nbye", [bob, evil])
    assert content["formatted_body"] == (
        '<strong>hi</strong> <a href="https://matrix.to/#/@bob_demo:hs">Bob</a> and '
        '<a href="https://matrix.to/#/@e:hs">&lt;b&gt;x&lt;/b&gt;</a><br>\nbye')
    assert content["m.mentions"] == {"user_ids": ["@bob_demo:hs", "@e:hs"]}


def test_plain_text_around_a_pill_is_escaped():
    content = m.message_content("@Bob 1 < 2\nok", [Pill("@bob_demo:hs", "Bob")])
    assert content["formatted_body"] == (
        '<a href="https://matrix.to/#/@bob_demo:hs">Bob</a> 1 &lt; 2<br>\nok')


def test_a_pill_edited_away_is_no_mention():
    bob = Pill("@bob_demo:hs", "Bob")
    assert m.message_content("@Bobby hi", [bob]) == {"msgtype": "m.text", "body": "@Bobby hi"}
    assert m.message_content("hi", [bob]) == {"msgtype": "m.text", "body": "hi"}


def test_longer_pill_wins_over_a_prefix_of_it():
    bob, bobby = Pill("@bob:hs", "Bob"), Pill("@bobby:hs", "Bob T")
    content = m.message_content("@Bob T and @Bob", [bob, bobby])
    assert content["m.mentions"]["user_ids"] == ["@bobby:hs", "@bob:hs"]
    assert content["formatted_body"].count("matrix.to") == 2


def test_mentions_user_reads_m_mentions_then_the_body():
    me = "@alice_demo:hs"
    assert m.mentions_user({"body": "x", "m.mentions": {"user_ids": [me]}}, me)
    assert not m.mentions_user({"body": "Alice", "m.mentions": {}}, me, ["Alice"])
    assert m.mentions_user({"body": "hey alice, look"}, me, ["Alice"])
    assert not m.mentions_user({"body": "Malice"}, me, ["Alice"])
    assert m.mentions_user({"body": "ping alice_demo"}, me)
    assert not m.mentions_user({"body": 5}, me, ["Alice"])
    assert not m.mentions_user({"body": "x", "m.mentions": {"user_ids": "nope"}}, me)
    assert not m.mentions_user({"m.mentions": {"user_ids": [me]}}, None)


def test_spans_mark_where_the_pills_are():
    bob, bobby = Pill("@bob:hs", "Bob"), Pill("@bobby:hs", "Bob T")
    assert m.spans("@Bob T and @Bob, @Bobby", [bob, bobby]) == [(0, 6), (11, 15)]
    assert m.spans("nothing", [bob]) == []


def test_pills_in_reads_back_the_pills_a_message_was_written_with():
    bob, amp = Pill("@bob_demo:hs", "Bob"), Pill("@x_demo:hs", "A & <B>")
    content = m.message_content("@Bob and @A & <B>, **hi**", [bob, amp])
    assert m.pills_in(content["body"], content["formatted_body"]) == [bob, amp]
    # a link whose "@name" is not in the body (another client's wording), or not to a user
    assert m.pills_in("Bob: hi", '<a href="https://matrix.to/#/@bob_demo:hs">Bob</a>: hi') == []
    assert m.pills_in("@room", '<a href="https://matrix.to/#/!r:hs">room</a>') == []
    assert m.pills_in("@Bob", None) == [] and m.pills_in("@Bob", "@Bob") == []
