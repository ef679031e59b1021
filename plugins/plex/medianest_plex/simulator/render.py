"""A tiny element tree that serialises both ways PMS answers: XML and JSON.

PMS names list entries differently in the two formats: in XML a movie is a ``<Video>`` and a
show a ``<Directory>``; in JSON both are entries of the ``Metadata`` array. An
:class:`Element` therefore carries its XML ``tag`` and its JSON ``key`` separately.

JSON keeps attribute types (ratingKey stays a string, addedAt an integer, booleans booleans);
XML writes booleans as ``1``/``0`` like PMS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_XML_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
        # Characters XML 1.0 cannot carry at all are dropped.
        **{chr(c): None for c in range(0x20) if chr(c) not in "\t\n\r"},
        "\ufffe": None,
        "\uffff": None,
    }
)


class Element:
    """One node: XML tag, JSON key, attributes and child elements.

    In JSON, children become arrays under their key, except ``single`` children, which PMS
    writes as one object (a session's ``User``, ``Player`` and ``Session``).
    """

    __slots__ = ("attrs", "children", "key", "single", "tag")

    def __init__(
        self,
        tag: str,
        attrs: dict[str, Any],
        children: list[Element] | None = None,
        key: str | None = None,
        *,
        single: bool = False,
    ) -> None:
        self.tag = tag
        self.key = key or tag
        self.single = single
        # Attributes whose value is None are left out, as PMS omits absent attributes.
        self.attrs: dict[str, Any] = (
            attrs
            if None not in attrs.values()
            else {k: v for k, v in attrs.items() if v is not None}
        )
        self.children = children or []

    def add(self, child: Element) -> Element:
        """Append ``child`` and return it."""
        self.children.append(child)
        return child

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape: attributes plus one array per child key."""
        out: dict[str, Any] = dict(self.attrs)
        for child in self.children:
            if child.single:
                out[child.key] = child.to_dict()
            else:
                out.setdefault(child.key, []).append(child.to_dict())
        return out

    def write_xml(self, out: list[str]) -> None:
        """Append this element's XML text to ``out``."""
        out.append("<" + self.tag)
        for name, value in self.attrs.items():
            out.append(f' {name}="{xml_value(value)}"')
        if not self.children:
            out.append(" />")
            return
        out.append(">")
        for child in self.children:
            child.write_xml(out)
        out.append(f"</{self.tag}>")


def xml_value(value: Any) -> str:
    """Format an attribute value the way PMS writes it in XML."""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, str):
        return value.translate(_XML_ESCAPES)
    return str(value)


def to_json(root: Element) -> bytes:
    """Serialise ``root`` as ``{"<root key>": {...}}`` JSON."""
    return json.dumps(
        {root.key: root.to_dict()}, ensure_ascii=False, separators=(",", ":")
    ).encode()


def to_xml(root: Element) -> bytes:
    """Serialise ``root`` as an XML document."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    root.write_xml(out)
    out.append("\n")
    return "".join(out).encode()


def dict_to_element(tag: str, value: Mapping[str, Any]) -> Element:
    """Build an element from a JSON-like mapping (for plex.tv v2 XML answers).

    Scalars become attributes; a list of mappings under ``name`` becomes a ``<name>``
    wrapper whose children are named by the singular (``connections`` → ``connection``);
    a nested mapping becomes a child element.
    """
    attrs: dict[str, Any] = {}
    children: list[Element] = []
    for name, item in value.items():
        if isinstance(item, Mapping):
            children.append(dict_to_element(name, item))
        elif isinstance(item, list):
            wrapper = Element(name, {})
            singular = name[:-1] if name.endswith("s") else name
            for entry in item:
                if isinstance(entry, Mapping):
                    wrapper.add(dict_to_element(singular, entry))
                else:
                    wrapper.add(Element(singular, {"id": entry}))
            children.append(wrapper)
        elif item is None:
            attrs[name] = ""
        else:
            attrs[name] = item
    return Element(tag, attrs, children)


def list_to_xml(root_tag: str, entry_tag: str, entries: list[Mapping[str, Any]]) -> bytes:
    """XML for a top-level JSON array (e.g. ``/api/v2/resources``)."""
    root = Element(
        root_tag, {"size": len(entries)}, [dict_to_element(entry_tag, e) for e in entries]
    )
    return to_xml(root)
