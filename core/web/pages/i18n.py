"""Every text of the pages in the person's language, and dates and numbers in its conventions.

Messages are English in the templates and code (``{{ _("Home") }}``, :func:`gettext`); the
catalogues in ``core/web/locale/<locale>/LC_MESSAGES/messages.po`` translate them. They are
compiled in memory when the app is built (nothing compiled is stored in the tree). The locale
of a request is the signed-in person's choice (``User.locale``, set on their profile page),
else this browser's (the ``medianest_locale`` cookie, which the same form sets, so the sign-in
page speaks it too), else the best match of ``Accept-Language``, else English; only shipped
locales count.

Templates get ``_``, ``gettext`` and ``ngettext`` (Jinja's i18n extension, new style: the
result is escaped like any value and takes ``%(name)s`` arguments), and the filters
``datetime``, ``date``, ``number``, ``kind_name`` and ``bdi``.
"""

from __future__ import annotations

import gettext as stdlib_gettext
from datetime import date, datetime
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime, get_timezone
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from markupsafe import Markup, escape
from quart import Quart, g, has_request_context, request

LOCALE_DIR = Path(__file__).parent.parent / "locale"
DEFAULT_LOCALE = "en"
LOCALE_COOKIE = "medianest_locale"
TRANSLATIONS_EXTENSION = "medianest.translations"


def shipped_locales() -> tuple[str, ...]:
    """English and every locale with a catalogue, English first."""
    found = sorted(path.parent.parent.name for path in LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))
    return (DEFAULT_LOCALE, *[name for name in found if name != DEFAULT_LOCALE])


def load_translations() -> dict[str, stdlib_gettext.NullTranslations]:
    """Every shipped catalogue, compiled in memory; English translates nothing."""
    loaded: dict[str, stdlib_gettext.NullTranslations] = {
        DEFAULT_LOCALE: stdlib_gettext.NullTranslations()
    }
    for name in shipped_locales()[1:]:
        with (LOCALE_DIR / name / "LC_MESSAGES" / "messages.po").open("rb") as source:
            catalog = read_po(source, locale=name)
        compiled = BytesIO()
        write_mo(compiled, catalog, use_fuzzy=False)
        compiled.seek(0)
        loaded[name] = stdlib_gettext.GNUTranslations(compiled)
    return loaded


def install_i18n(app: Quart) -> None:
    """Load the catalogues and give the app's templates gettext and the locale filters."""
    app.extensions[TRANSLATIONS_EXTENSION] = load_translations()
    env = app.jinja_env
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext=gettext, ngettext=ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["_"] = env.globals["gettext"]
    env.filters["datetime"] = format_when
    env.filters["date"] = format_day
    env.filters["number"] = format_number
    env.filters["bdi"] = bdi
    env.filters["kind_name"] = kind_name

    @app.before_request
    async def choose_locale() -> None:
        g.locale = choose(app)


def choose(app: Quart) -> str:
    """The locale of the current request (the person's, this browser's, ``Accept-Language``,
    then English)."""
    shipped: tuple[str, ...] = tuple(app.extensions[TRANSLATIONS_EXTENSION])
    user = g.get("current_user")
    person: str | None = getattr(user, "locale", None) if user is not None else None
    if person in shipped:
        return person
    chosen = request.cookies.get(LOCALE_COOKIE, "")
    if chosen in shipped:
        return chosen
    for value, _quality in request.accept_languages:  # best first; "fr-CA" takes "fr"
        tag = value.replace("_", "-").lower()
        if tag in shipped:
            return tag
        if tag.split("-", 1)[0] in shipped:
            return tag.split("-", 1)[0]
    return DEFAULT_LOCALE


def current_locale() -> str:
    """The locale of the current request (English outside one)."""
    if not has_request_context():
        return DEFAULT_LOCALE
    return g.get("locale") or DEFAULT_LOCALE


def _translations() -> stdlib_gettext.NullTranslations:
    from quart import current_app

    loaded = current_app.extensions.get(TRANSLATIONS_EXTENSION, {})
    return loaded.get(current_locale()) or stdlib_gettext.NullTranslations()


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is defined; it is translated when shown."""
    return message


KIND_NAMES = {
    "movie": N_("movie"),
    "show": N_("show"),
    "season": N_("season"),
    "episode": N_("episode"),
    "artist": N_("artist"),
    "album": N_("album"),
    "track": N_("track"),
    "video": N_("video"),
    "channel": N_("channel"),
    "playlist": N_("playlist"),
    "collection": N_("collection"),
}
"""Media kinds as people read them (the ``kind_name`` filter translates them)."""


def kind_name(kind: object) -> str:
    """The media kind ``kind`` (``movie``, ...) in the current locale."""
    value = str(getattr(kind, "value", kind))
    return gettext(KIND_NAMES[value]) if value in KIND_NAMES else value


def gettext(message: str, **variables: object) -> str:
    """``message`` in the current locale, with ``%(name)s`` variables filled in."""
    text = _translations().gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    """The form of ``singular``/``plural`` for ``n`` in the current locale (``num`` = ``n``)."""
    text = _translations().ngettext(singular, plural, n)
    return text % {"num": n, **variables}


def locale_name(code: str) -> str:
    """The name of locale ``code`` in its own language (``Français``)."""
    return (Locale.parse(code).get_display_name(code) or code).capitalize()


def format_when(value: datetime | None, format: str = "medium") -> str:
    """A date and time in the current locale (UTC), ``""`` for none."""
    if value is None:
        return ""
    return format_datetime(
        value, format=format, tzinfo=get_timezone("UTC"), locale=current_locale()
    )


def format_day(value: date | datetime | None, format: str = "medium") -> str:
    """A date in the current locale, ``""`` for none."""
    if value is None:
        return ""
    return format_date(value, format=format, locale=current_locale())


def format_number(value: float | int | None) -> str:
    """A number in the current locale (``12,345`` in English, ``12 345`` in French)."""
    if value is None:
        return ""
    return format_decimal(value, locale=current_locale())


def bdi(value: object) -> Markup:
    """``value`` escaped and isolated in ``<bdi>``: text from elsewhere (titles, names) whose
    right-to-left characters or overrides cannot reorder the text around it."""
    return Markup("<bdi>%s</bdi>") % escape("" if value is None else str(value))
