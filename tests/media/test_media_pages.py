"""The media details page over the simulated Plex servers: a show's seasons, a season's
episodes and its show, a film's copy on the other server, and the external ids' links."""

from __future__ import annotations

import re

from medianest.sdk.testing import RunningHub
from tests.media.conftest import rows
from tests.media.test_media_details import shared_films


async def page(running: RunningHub, headers: dict, path: str) -> str:
    response = await running.client.get(path, headers=headers)
    text = await response.get_data(as_text=True)
    assert response.status_code == 200, text[:500]
    return text


async def test_a_show_page_lists_its_seasons_and_a_season_its_episodes(
    synced: RunningHub, reader: dict
) -> None:
    [show, *_] = await rows(source="plex:home", kind="show")
    seasons = await rows(source="plex:home", parent_id=show.item_id)
    html = await page(synced, reader, f"/media/plex:home/{show.item_id}")
    assert re.search(r">\s*Seasons\s*<", html) and f"({len(seasons)})" in html
    for season in seasons:
        assert f'href="/media/plex:home/{season.item_id}"' in html
    if show.imdb:
        assert f"https://www.imdb.com/title/{show.imdb}/" in html
    if show.tvdb:
        assert f"https://thetvdb.com/dereferrer/series/{show.tvdb}" in html
    season = sorted(seasons, key=lambda s: s.number)[0]
    episodes = await rows(source="plex:home", parent_id=season.item_id)
    html = await page(synced, reader, f"/media/plex:home/{season.item_id}")
    assert re.search(r">\s*Episodes\s*<", html)
    assert f'href="/media/plex:home/{show.item_id}"' in html
    assert len(re.findall(r'<li class="row">\s*<a href="/media/plex:home/', html)) == len(episodes)


async def test_a_film_page_shows_its_copy_on_the_other_server(
    synced: RunningHub, reader: dict
) -> None:
    home_id, cabin_id = (await shared_films())[0]
    html = await page(synced, reader, f"/media/plex:home/{home_id}")
    assert f'href="/media/plex:cabin/{cabin_id}"' in html
    assert html.count("in the library") == 2
    assert "Corrections" not in html  # a reader has no edit_metadata


async def test_an_editor_gets_the_corrections_form(synced: RunningHub, editor: dict) -> None:
    home_id, _ = (await shared_films())[0]
    html = await page(synced, editor, f"/media/plex:home/{home_id}")
    assert 'action="/media/plex:home/' in html and 'name="csrf_token"' in html


async def test_posters_come_from_the_hub_and_the_plex_server_through_it(
    synced: RunningHub, reader: dict
) -> None:
    home_id, _ = (await shared_films())[0]
    html = await page(synced, reader, f"/media/plex:home/{home_id}")
    found = re.search(r'<img class="poster-img" src="([^"]+)" alt="Poster of [^"]+"', html)
    assert found is not None, html[:2000]
    src = found.group(1).replace("&amp;", "&")
    assert src == f"/media/plex:home/{home_id}/image/poster?w=480"
    assert 'class="poster-blank' in html  # the letter stays under it
    assert "X-Plex-Token" not in html and "token" not in src

    picture = await synced.client.get(src, headers=reader)
    body = await picture.get_data()
    assert picture.status_code == 200 and picture.content_type == "image/png"
    assert body.startswith(b"\x89PNG") and body[16:24] == (480).to_bytes(4) + (720).to_bytes(4)

    home = await page(synced, reader, "/")
    assert re.search(r'class="poster-img" src="/media/plex:home/\d+/image/poster\?w=320"', home)
    library = await page(synced, reader, "/library?source=plex:cabin")
    assert re.search(r'src="/media/plex:cabin/\d+/image/poster\?w=320"', library)
    shelf = await page(synced, reader, "/library?source=shelf")
    assert 'class="poster-img"' not in shelf  # shelf hands over no pictures, has no https ones
