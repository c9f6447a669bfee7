"""Every key of the viewer: one table, read by the bindings, the help screen, the palette and the keymap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["viewer", "inbox", "both"]


@dataclass(frozen=True, slots=True)
class Action:
    """One remappable key binding: its id in the [keymap] table, default keys, action, help text."""

    id: str
    keys: str
    action: str
    help: str
    footer: str = ""
    """A short label, for the actions shown in the footer."""
    scope: Scope = "viewer"
    """Where the key works: on an image, in the inbox, or both (a key may mean one thing in each)."""


ACTIONS = [
    Action("place", "a", "place", "Place a marker at the cursor and write its first comment", "Place"),
    Action("next", "n", "next_marker", "Next marker", "Next"),
    Action("previous", "p", "previous_marker", "Previous marker"),
    Action("next-open", "u", "next_unresolved", "Next unresolved marker", "Unresolved"),
    Action("next-unread", "U", "next_unread", "Next unread marker: new comments by others"),
    Action("comment", "c", "comment", "Comment on the selected marker"),
    Action("reply", "r", "reply", "Reply to the selected comment", "Reply"),
    Action("next-comment", "right_square_bracket", "next_comment", "Next comment in the thread"),
    Action("previous-comment", "left_square_bracket", "previous_comment", "Previous comment in the thread"),
    Action("edit", "e", "edit", "Edit your selected comment"),
    Action("delete-comment", "d", "delete_comment", "Delete the selected comment"),
    Action("delete-marker", "D", "delete_marker", "Delete the selected marker and its conversation"),
    Action("resolve", "x", "toggle_resolved", "Resolve or reopen the selected marker", "Resolve"),
    Action("move", "m", "move_marker", "Move the selected marker to the cursor"),
    Action("copy", "y", "copy_thread", "Copy the selected thread as Markdown, headed by its link"),
    Action("copy-link", "Y", "copy_link", "Copy the link to the image, at the selected marker"),
    Action("close", "escape", "close_thread", "Back to the list of markers; from there, back to the inbox"),
    Action("left", "left,h", "cursor(-1,0)", "Move the cursor left"),
    Action("right", "right,l", "cursor(1,0)", "Move the cursor right"),
    Action("up", "up,k", "cursor(0,-1)", "Move the cursor up"),
    Action("down", "down,j", "cursor(0,1)", "Move the cursor down"),
    Action("zoom-in", "plus,equals_sign", "zoom(1)", "Zoom in around the cursor", "Zoom"),
    Action("zoom-out", "minus", "zoom(-1)", "Zoom out around the cursor"),
    Action("zoom-fit", "0", "zoom_fit", "Fit the whole image"),
    Action("zoom-actual", "1", "zoom_actual", "Actual pixels: one image pixel per screen pixel"),
    Action("zoom-marker", "z", "zoom_marker", "Zoom to the selected marker"),
    Action("pan-left", "shift+left,H", "pan(-1,0)", "Pan left"),
    Action("pan-right", "shift+right,L", "pan(1,0)", "Pan right"),
    Action("pan-up", "shift+up,K", "pan(0,-1)", "Pan up"),
    Action("pan-down", "shift+down,J", "pan(0,1)", "Pan down"),
    Action("open-externally", "o", "open_externally", "Open the image in the desktop's image viewer"),
    Action("inbox-open", "enter", "inbox_open", "Inbox: open the selected image", "Open", "inbox"),
    Action("inbox-filter-open", "o", "inbox_filter('open')", "Inbox: only images with open markers", "Open only",
           "inbox"),
    Action("inbox-filter-all", "a", "inbox_filter('all')", "Inbox: every image with markers", "All", "inbox"),
    Action("inbox-filter-mine", "m", "inbox_filter('mine')", "Inbox: images I placed a marker on or commented on",
           "Mine", "inbox"),
    Action("inbox-filter-unread", "u", "inbox_filter('unread')",
           "Inbox: only images with unread markers", "Unread", "inbox"),
    Action("inbox-search", "slash", "inbox_search", "Inbox: search the comments' text", "Search", "inbox"),
    Action("inbox-clear-search", "escape", "inbox_clear_search", "Inbox: clear the search", scope="inbox"),
    Action("notifications", "N", "notifications", "Notifications: replies, comments, mentions, status changes",
           scope="both"),
    Action("help", "question_mark", "help", "Show the keys", "Help", "both"),
    Action("quit", "q", "quit", "Quit", "Quit", "both"),
]

SCOPES: dict[str, Scope] = {a.action.split("(")[0]: a.scope for a in ACTIONS}
"""Each action's scope by its name, as Textual's check_action is asked."""


def key_names(keys: str) -> str:
    """Keys as the help screen shows them: `right_square_bracket` is `]`."""
    names = {"right_square_bracket": "]", "left_square_bracket": "[", "question_mark": "?", "slash": "/"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in keys.split(","))
