"""The API's interactive documentation at ``/api-docs``: Swagger UI over
``/api/v1/openapi.json``, served by the hub itself from the installed ``swagger-ui-bundle-v2``
package (no network needed). Anyone signed in may read it; it calls the API as them (with
their cookies and the CSRF header), so it can do only what they can.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from quart import Response, abort, request
from swagger_ui_bundle import swagger_ui_path

from medianest.core.web.pages import i18n
from medianest.core.web.pages.shell import page_blueprint, render_page
from medianest.sdk.access import signed_in

apidocs_pages = page_blueprint("apidocs_pages", __name__, template_folder="../templates")

SWAGGER_FILES = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
}


@cache
def _swagger_file(name: str) -> tuple[bytes, str]:
    content = (Path(str(swagger_ui_path)) / name).read_bytes()
    return content, hashlib.sha256(content).hexdigest()[:16]


@apidocs_pages.get("/api-docs")
@signed_in
async def api_docs() -> Response:
    """The interactive API documentation."""
    return await render_page(
        "apidocs.html",
        title=i18n.gettext("API documentation"),
        swagger_css=f"/api-docs/assets/{_swagger_file('swagger-ui.css')[1]}/swagger-ui.css",
        swagger_js=(
            f"/api-docs/assets/{_swagger_file('swagger-ui-bundle.js')[1]}/swagger-ui-bundle.js"
        ),
    )


@apidocs_pages.get("/api-docs/assets/<digest>/<name>")
@signed_in(api_keys=True)
async def swagger_asset(digest: str, name: str) -> Response:
    """Swagger UI's own files, cached for a year under their content's digest."""
    content_type = SWAGGER_FILES.get(name)
    if content_type is None:
        abort(404)
    content, current = _swagger_file(name)
    if digest != current:
        abort(404)
    if request.if_none_match.contains(current):
        return Response(status=304, headers={"ETag": f'"{current}"'})
    response = Response(content, content_type=content_type)
    response.headers["ETag"] = f'"{current}"'
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
