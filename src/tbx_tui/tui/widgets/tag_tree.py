"""Tags grouped by prefix (Loss/, Accuracy/, weights/, …), as TensorBoard groups them."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree


VIEW_NAMES = {"confusion": "confusion", "pr": "PR curves", "image": "image",
              "gradflow": "gradient flow", "structure": "model structure"}


class TagTree(Tree):
    def __init__(self, **kwargs):
        super().__init__("tags", **kwargs)
        self.show_root = False
        self._known: tuple = ()

    def sync(self, scalar_tags: set[str], histogram_tags: set[str],
             views: list[tuple[str, str]] = ()) -> bool:
        """Rebuild when the set of tags changed. Returns whether it did. ``views``: the
        evaluation views, (kind, tag), under a group of their own at the top."""
        key = (tuple(sorted(scalar_tags)), tuple(sorted(histogram_tags)), tuple(views))
        if key == self._known:
            return False
        self._known = key
        self.clear()
        if views:
            node = self.root.add(Text("views"), expand=True)
            for kind, tag in views:
                node.add_leaf(Text(f"{VIEW_NAMES[kind]}" + (f": {tag}" if kind in
                                                            ("confusion", "image") else "")),
                              data=(tag, kind))
        groups: dict[str, list[tuple[str, str]]] = {}
        for kind, tags in (("scalar", key[0]), ("histogram", key[1])):
            for tag in tags:
                prefix = tag.split("/", 1)[0] if "/" in tag else "(other)"
                groups.setdefault(prefix, []).append((tag, kind))
        for prefix in sorted(groups):
            # Text, not str: a str label is markup, and a tag is anyone's text (a tag
            # holding [@click=app.quit] made a leaf that quit the app when clicked).
            node = self.root.add(Text(prefix), expand=True)
            for tag, kind in groups[prefix]:
                label = tag.split("/", 1)[1] if "/" in tag else tag
                node.add_leaf(Text(label + (" ▤" if kind == "histogram" else "")),
                              data=(tag, kind))
        return True
