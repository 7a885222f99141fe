"""The composer's Markdown: formatted_body beside the typed body, only when there is formatting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pyapp.client.markdown import HTML_FORMAT, text_content, to_html


def test_plain_text_stays_plain():
    for text in ("hello", "two\nlines", "a - b = c", "3.5 apples", "i <3 u", "AT&T",
                 "see you at 10. bring food", "para one\n\npara two"):
        assert text_content(text) == {"msgtype": "m.text", "body": text}, text


@pytest.mark.parametrize("text, html", [
    ("**bold** and *italic*", "<strong>bold</strong> and <em>italic</em>"),
    ("run `ls -l` now", "run <code>ls -l</code> now"),
    ("```\nprint(1)\n```", "<pre><code>print(1)\n</code></pre>"),
    ("```python\nx = 1\n```", '<pre><code class="language-python">x = 1\n</code></pre>'),
    ("[the site](https://example.org/a?b=1&c=2)",
     '<a href="https://example.org/a?b=1&amp;c=2">the site</a>'),
    ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
    ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'),
    ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
    ("~~gone~~", "<s>gone</s>"),
    ("first **line**\nsecond", "first <strong>line</strong><br>\nsecond"),
])
def test_markdown_becomes_html_beside_the_typed_body(text, html):
    content = text_content(text)
    assert content == {"msgtype": "m.text", "body": text, "format": HTML_FORMAT,
                       "formatted_body": html}


def test_typed_html_is_text_never_markup():
    assert to_html("<b>hi</b> <script>alert(1)</script>") is None
    assert to_html("**<img src=x onerror=alert(1)>**") == \
        "<strong>&lt;img src=x onerror=alert(1)&gt;</strong>"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JaVaScRiPt:alert(1)",
                                 "vbscript:msgbox(1)", "data:text/html,<script>x</script>",
                                 "file:///etc/passwd"])
def test_dangerous_link_targets_are_not_links(url):
    assert "href" not in (to_html(f"[click]({url}) **x**") or "")


def test_images_are_not_made_from_markdown():
    assert "<img" not in to_html("![cat](https://example.org/cat.png)")


def test_the_library_is_imported_only_for_text_that_may_be_markdown():
    code = ("import sys\nfrom pyapp.client.markdown import text_content\n"
            "text_content('just words, nothing else')\n"
            "assert 'markdown_it' not in sys.modules\n"
            "text_content('**now**')\nassert 'markdown_it' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_replies_and_edits_are_read_as_markdown_too():
    from pyapp.client import actions

    reply = actions.reply_content("**yes**", "$orig", "@bob:hs", "@me:hs")
    assert (reply["body"], reply["format"], reply["formatted_body"]) == (
        "**yes**", HTML_FORMAT, "<strong>yes</strong>")
    assert reply["m.relates_to"] == {"m.in_reply_to": {"event_id": "$orig"}}
    edit = actions.edit_content("*fixed*", "$orig")
    assert edit["m.new_content"] == {"msgtype": "m.text", "body": "*fixed*",
                                     "format": HTML_FORMAT, "formatted_body": "<em>fixed</em>"}
    assert (edit["body"], edit["formatted_body"]) == ("* *fixed*", "* <em>fixed</em>")
    assert actions.edit_content("plain", "$orig")["m.new_content"] == {
        "msgtype": "m.text", "body": "plain"}
