"""`{% inline_stylesheets "css/site.css" "css/property.css" %}`: the site's stylesheets written
into the page's <head> as one <style>, so the first paint waits for no stylesheet request.

They are small (about 30 KB before compression, a few KB gzipped with the page), so inlining
all of them is cheaper than a second round trip on a phone's connection, and it needs no
"critical CSS" list to keep in step with the templates.

Each file is read once per process (again when its modification time changes, so a
developer's edit shows at once) from where the static files are: the collected copy under
STATIC_ROOT in production, the app and project static folders (the staticfiles finders)
otherwise. A file that can't be read is linked instead, through the static storage, so its URL
carries the content hash (a deploy never serves an old copy from a cache).

The site sends no Content-Security-Policy; if it ever does, the <style> needs its nonce or
hash (style-src), or this tag should fall back to the links.
"""

import os
import re

from django import template
from django.conf import settings
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

# path -> (mtime, css)
_cache: dict[str, tuple[float, str]] = {}
# A relative url(...) in a stylesheet is relative to the stylesheet; inlined, it would be
# relative to the page. Rewritten to the static URL (data: and absolute URLs stay as they are).
_URL = re.compile(r"""url\(\s*(['"]?)(?!data:|https?:|/|#)([^'")]+)\1\s*\)""")


def _source_path(path: str) -> str | None:
    collected = os.path.join(settings.STATIC_ROOT, path) if settings.STATIC_ROOT else None
    if collected and os.path.isfile(collected) and not settings.DEBUG:
        return collected
    found = finders.find(path)
    if found:
        return found
    return collected if collected and os.path.isfile(collected) else None


def _read(path: str) -> str | None:
    if not settings.DEBUG and path in _cache:
        return _cache[path][1]
    source = _source_path(path)
    if source is None:
        return None
    try:
        mtime = os.path.getmtime(source)
        cached = _cache.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
        with open(source, encoding="utf-8") as handle:
            css = handle.read()
    except (OSError, UnicodeDecodeError):
        return None
    folder = os.path.dirname(path)
    css = _URL.sub(lambda m: f'url("{static(os.path.normpath(os.path.join(folder, m.group(2))).replace(os.sep, "/"))}")', css)
    # "</style" inside the CSS would end the element early.
    css = css.replace("</", "<\\/")
    _cache[path] = (mtime, css)
    return css


@register.simple_tag
def inline_stylesheets(*paths: str) -> str:
    inlined, links = [], []
    for path in paths:
        css = _read(path)
        if css is None:
            links.append(format_html('<link rel="stylesheet" href="{}">', static(path)))
        else:
            inlined.append(f"/* {path} */\n{css}")
    html = ""
    if inlined:
        html += "<style>\n" + "\n".join(inlined) + "\n</style>"
    return mark_safe(html + "".join(links))
