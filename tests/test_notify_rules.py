"""The notification rules alone (server/notify_rules.py): who is told of a write, and of what."""

from __future__ import annotations

from imagechat_tui.protocol.mentions import excerpt, mention_token, mentionable, mentioned_ids, pieces, shown
from imagechat_tui.server.notify_rules import Occasion, recipients


def test_a_new_comment_tells_the_marker_creator_and_everyone_who_commented_but_not_the_author() -> None:
    told = recipients(Occasion("bo", "comment", "ana", commenters={"ana", "bo", "cy"}))
    assert told == {"ana": "comment", "cy": "comment"}


def test_a_reply_tells_the_parent_author_as_a_reply() -> None:
    told = recipients(Occasion("bo", "comment", "ana", commenters={"ana", "cy"}, parent_author="cy"))
    assert told == {"cy": "reply", "ana": "comment"}


def test_a_mention_comes_first_and_each_user_is_told_once() -> None:
    told = recipients(Occasion("bo", "comment", "ana", commenters={"ana", "cy"}, parent_author="cy",
                               mentioned=("cy", "dee", "bo")))
    assert told == {"cy": "mention", "dee": "mention", "ana": "comment"}
    assert list(told) == ["cy", "dee", "ana"]


def test_a_new_marker_tells_only_who_it_mentions() -> None:
    assert recipients(Occasion("ana", "comment", "ana")) == {}
    assert recipients(Occasion("ana", "comment", "ana", mentioned=("bo",))) == {"bo": "mention"}


def test_status_changes_tell_the_creator_only_and_never_of_their_own() -> None:
    assert recipients(Occasion("bo", "resolved", "ana", commenters={"cy"})) == {"ana": "resolved"}
    assert recipients(Occasion("bo", "reopened", "ana")) == {"ana": "reopened"}
    assert recipients(Occasion("ana", "resolved", "ana")) == {}


def test_an_edit_tells_only_who_it_newly_mentions() -> None:
    assert recipients(Occasion("bo", "edit", "ana", commenters={"ana"}, mentioned=("cy",))) == {"cy": "mention"}
    assert recipients(Occasion("bo", "edit", "ana", commenters={"ana"})) == {}


def test_mention_tokens() -> None:
    text = f"hi {mention_token('u_ana')} and {mention_token('u_bo')}, {mention_token('u_ana')} again <@ no>"
    assert mentioned_ids(text) == ["u_ana", "u_bo"]
    names = {"u_ana": "Ana [b]x[/b]\x1b[31m"}
    assert shown(text, names) == "hi @Ana [b]x[/b]\x1b[31m and @u_bo, @Ana [b]x[/b]\x1b[31m again <@ no>"
    assert [p.user_id for p in pieces(text, names) if p.user_id] == ["u_ana", "u_bo", "u_ana"]
    assert not mentionable("u a") and not mentionable("u>a") and not mentionable("")
    assert excerpt("ab <@u_ana> cd", 8) == "ab "
    assert excerpt("ab <@u_ana> cd", 11) == "ab <@u_ana>"


def test_typed_names_become_tokens_and_back() -> None:
    from imagechat_tui.protocol.mentions import completions, with_tokens

    names = {"u_ana": "Ana", "u_al": "Ana Lima", "u_x1": "Sam", "u_x2": "Sam", "u_h": "<b>[red]x\x1b"}
    typed = "@Ana Lima and @Ana, @Sam, @Anaxagoras, mail@Ana and @<b>[red]x\x1b!"
    tokens = with_tokens(typed, names)
    assert tokens == "<@u_al> and <@u_ana>, @Sam, @Anaxagoras, mail<@u_ana> and <@u_h>!"
    assert shown(tokens, names) == typed
    assert completions("an", names) == [("u_ana", "Ana"), ("u_al", "Ana Lima")]
    assert completions("", {"bad id": "Z"}) == []
