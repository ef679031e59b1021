"""Word lists and deterministic text builders for the simulated Plex library.

Everything here is a pure function of its integer inputs, so the same seed always yields the
same titles, summaries, people and ids. Titles are built by combining word lists; nothing is
taken from a real catalogue.
"""

from __future__ import annotations

import hashlib

# fmt: off
ADJECTIVES: tuple[str, ...] = (
    "Silent", "Crimson", "Hidden", "Broken", "Golden", "Frozen", "Last", "Distant", "Electric",
    "Wild", "Hollow", "Burning", "Quiet", "Restless", "Secret", "Savage", "Gentle", "Iron",
    "Midnight", "Lost", "Northern", "Velvet", "Shattered", "Bright", "Endless", "Fading",
    "Scarlet", "Wandering", "Bitter", "Radiant", "Forgotten", "Painted", "Rising", "Sunken",
    "Twisted", "Ancient", "Emerald", "Stolen", "Paper", "Glass", "Copper", "Salt", "Neon",
    "Winter", "Summer", "Autumn", "Faithful", "Reckless", "Lonely", "Borrowed",
)
NOUNS: tuple[str, ...] = (
    "Harbor", "Kingdom", "Signal", "River", "Garden", "Empire", "Horizon", "Lantern", "Voyage",
    "Frontier", "Echo", "Orchard", "Citadel", "Compass", "Tide", "Meridian", "Summit",
    "Archive", "Covenant", "Labyrinth", "Outpost", "Reckoning", "Sanctuary", "Threshold",
    "Vessel", "Whisper", "Canyon", "Monarch", "Pilgrim", "Circuit", "Mirror", "Station",
    "Island", "Crossing", "Machine", "Harvest", "Tempest", "Anthem", "Paradox", "Requiem",
    "Wolf", "Falcon", "Engine", "Cathedral", "Prophecy", "Dynasty", "Heist", "Protocol",
    "Legacy", "Run",
)
PLACES: tuple[str, ...] = (
    "Avalon", "Ravenmoor", "Port Selene", "Ashford", "Blackwater", "Kestrel Bay", "Dunmore",
    "Saltmarsh", "Eldergrove", "Marrow Hill", "Stonehaven", "Cinder Falls", "Larkspur",
    "Northwind", "Glasswater", "Hollowmere", "Brightwell", "Oakhurst", "Vale End", "Greyhaven",
)
FIRST_NAMES: tuple[str, ...] = (
    "Ada", "Ben", "Clara", "Dev", "Elena", "Felix", "Grace", "Hugo", "Iris", "Jonah", "Kira",
    "Leo", "Maya", "Nico", "Olive", "Priya", "Quinn", "Rafael", "Sana", "Theo", "Uma", "Victor",
    "Wren", "Xavier", "Yara", "Zane", "Amara", "Bruno", "Celine", "Dario", "Esme", "Farah",
)
LAST_NAMES: tuple[str, ...] = (
    "Ashworth", "Bellamy", "Castellanos", "Delacroix", "Eriksen", "Fairbanks", "Greenwood",
    "Hollister", "Ibarra", "Jovanovic", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor",
    "Petrov", "Quintero", "Rasmussen", "Sorensen", "Takahashi", "Underwood", "Valentin",
    "Whitaker", "Yilmaz", "Zielinski", "Abernathy", "Brennan", "Carvalho", "Dunleavy",
    "Esposito",
)
GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family",
    "Fantasy", "History", "Horror", "Music", "Mystery", "Romance", "Science Fiction",
    "Thriller", "War", "Western",
)
STUDIOS: tuple[str, ...] = (
    "Northlight Pictures", "Harborline Films", "Copperleaf Studios", "Blue Meridian",
    "Tallgrass Entertainment", "Lanternhouse", "Silver Finch Media", "Redwood Arc",
)
NETWORKS: tuple[str, ...] = (
    "Channel Nine", "Northwind Broadcasting", "Harbor TV", "Streamline", "Orbit Network",
)
CONTENT_RATINGS_MOVIE: tuple[str, ...] = (
    "G", "PG", "PG-13", "R", "NR",
)
CONTENT_RATINGS_TV: tuple[str, ...] = (
    "TV-G", "TV-PG", "TV-14", "TV-MA",
)
COUNTRIES: tuple[str, ...] = (
    "United States of America", "United Kingdom", "Canada", "France", "Germany", "Japan",
    "South Korea", "Spain", "Australia", "Ireland",
)
SUMMARY_OPENINGS: tuple[str, ...] = (
    "When a {role} from {place} uncovers {thing}, {pronoun} must {goal}.",
    "In the shadow of {place}, a {role} and an unlikely ally race to {goal}.",
    "A {role} returns to {place} after twenty years, only to find {thing}.",
    "Years after {thing}, the people of {place} ask a reluctant {role} to {goal}.",
)
SUMMARY_ROLES: tuple[str, ...] = (
    "retired detective", "young cartographer", "disgraced pilot", "night-shift nurse",
    "street magician", "marine biologist", "small-town mayor", "former smuggler", "radio host",
    "museum curator",
)
SUMMARY_THINGS: tuple[str, ...] = (
    "a map that should not exist", "a signal from the deep sea", "a family secret",
    "a stolen painting", "a lighthouse that keeps going dark", "a letter never delivered",
    "a forgotten experiment", "an impossible photograph",
)
SUMMARY_GOALS: tuple[str, ...] = (
    "set things right before winter", "outrun the people who want it buried",
    "win back everything that was lost", "keep a promise made long ago",
    "bring a scattered family together", "decide who to trust",
)
TAGLINES: tuple[str, ...] = (
    "Some doors stay closed for a reason.", "Every map ends somewhere.",
    "The tide always comes back.", "Trust no one. Not even yourself.", "One night. One chance.",
    "Home is further than it looks.",
)
ARTICLES: tuple[str, ...] = (
    "The ", "A ", "An ",
)
# fmt: on
_MASK64 = (1 << 64) - 1


def mix(*parts: int) -> int:
    """Return a well-spread 64-bit integer derived from ``parts`` (stable across runs)."""
    digest = hashlib.blake2b(
        b"".join((p & _MASK64).to_bytes(8, "little") for p in parts), digest_size=8
    ).digest()
    return int.from_bytes(digest, "little")


def pick(options: tuple[str, ...], value: int) -> str:
    """Return ``options[value % len(options)]``."""
    return options[value % len(options)]


def hex_id(value: int, length: int) -> str:
    """Return ``length`` lowercase hex characters derived from ``value``."""
    out = hashlib.blake2b(value.to_bytes(16, "little", signed=False), digest_size=32).hexdigest()
    return out[:length]


def movie_title(value: int) -> str:
    """Return a realistic-sounding movie title for the integer ``value``."""
    a, n, p = value & 0xFFFF, (value >> 16) & 0xFFFF, (value >> 32) & 0xFFFF
    shape = (value >> 48) % 7
    adj, noun, place = pick(ADJECTIVES, a), pick(NOUNS, n), pick(PLACES, p)
    if shape == 0:
        return f"The {adj} {noun}"
    if shape == 1:
        return f"{noun} of {place}"
    if shape == 2:
        return f"{adj} {noun}"
    if shape == 3:
        return f"The {noun} at {place}"
    if shape == 4:
        return f"A {adj} {noun} in {place}"
    if shape == 5:
        return f"{pick(FIRST_NAMES, p)}'s {noun}"
    return f"{place}: {adj} {noun}"


def show_title(value: int) -> str:
    """Return a realistic-sounding TV series title for the integer ``value``."""
    a, n, p = value & 0xFFFF, (value >> 16) & 0xFFFF, (value >> 32) & 0xFFFF
    shape = (value >> 48) % 5
    adj, noun, place = pick(ADJECTIVES, a), pick(NOUNS, n), pick(PLACES, p)
    if shape == 0:
        return f"{place} {noun}"
    if shape == 1:
        return f"The {noun}s of {place}"
    if shape == 2:
        return f"{adj} {place}"
    if shape == 3:
        return f"{noun} Street"
    return f"The {adj} Years"


def episode_title(value: int) -> str:
    """Return an episode title for the integer ``value``."""
    shape = value % 4
    noun, adj = pick(NOUNS, value >> 8), pick(ADJECTIVES, value >> 24)
    if shape == 0:
        return f"The {noun}"
    if shape == 1:
        return f"{adj} Night"
    if shape == 2:
        return f"Return to the {noun}"
    return f"{adj} {noun}"


def sort_title(title: str) -> str:
    """Return Plex's ``titleSort`` for ``title``: the title without a leading article."""
    for article in ARTICLES:
        if title.startswith(article) and len(title) > len(article):
            return title[len(article) :]
    return title


def person_name(value: int) -> str:
    """Return a person's name for the integer ``value``."""
    return f"{pick(FIRST_NAMES, value)} {pick(LAST_NAMES, value >> 12)}"


def summary(value: int, place_hint: int) -> str:
    """Return a two-sentence plot summary for the integer ``value``."""
    template = pick(SUMMARY_OPENINGS, value)
    pronoun = "she" if (value >> 7) % 2 else "he"
    first = template.format(
        role=pick(SUMMARY_ROLES, value >> 10),
        place=pick(PLACES, place_hint),
        thing=pick(SUMMARY_THINGS, value >> 20),
        pronoun=pronoun,
        goal=pick(SUMMARY_GOALS, value >> 30),
    )
    return first[0].upper() + first[1:] + " " + pick(TAGLINES, value >> 40)
