"""No page is wider than a 360 px phone: the home page, a list's part of it and search, laid out
by headless Chromium (skipped where it is not installed: `apt-get install chromium`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from html import escape
from pathlib import Path

import pytest
from conftest import GitRepo

from dltbot.config import parse_config
from dltbot.models import ListSource
from dltbot.site import Site
from dltbot.storage import Storage
from dltbot.sync import sync_list

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# A desktop window cannot be made 360 px wide, so the page is laid out in a 360 px frame of
# a wider one (srcdoc: same origin, so the frame's width can be read), and the result is
# written into the outer page's title, which --dump-dom shows.
FRAME = """<!doctype html><html><head><title>-</title></head><body>
<iframe id="f" style="width:360px;height:800px;border:0" srcdoc="{page}"></iframe>
<script>document.getElementById("f").addEventListener("load", (event) => {{
  const inner = event.target.contentDocument;
  document.title = "width=" + Math.max(inner.documentElement.scrollWidth,
                                       inner.body.scrollWidth);
}});</script></body></html>"""
LONG_NAME = "a-list-with-a-rather-long-name-" + "x" * 30
LIST = (
    "# Awesome\n\n## Optimization 优化 and a heading long enough to wrap on a phone screen\n\n"
    "- [Adam: A Method for Stochastic Optimization](https://arxiv.org/abs/1412.6980) the "
    "optimizer everyone uses — https://example.org/a/very/long/url/that/does/not/break/"
    "anywhere/by/itself/because/it/has/no/spaces/at/all/0123456789abcdef\n"
    "- [泛化理论](https://zhuanlan.zhihu.com/p/1) 深度学习的泛化之谜，一篇很长的中文描述"
    "，没有空格也必须换行才能在手机上读完整个句子。\n"
)


def width(html: str, tmp_path: Path, name: str) -> int:
    page = tmp_path / f"{name}.html"
    page.write_text(FRAME.format(page=escape(html, quote=True)), encoding="utf-8")
    result = subprocess.run(
        [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=800,900",
         "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r"<title>width=(\d+)</title>", result.stdout)
    assert found, result.stderr[-2000:]
    return int(found[1])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_no_page_is_wider_than_a_phone(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"README.md": LIST}, "start")
    db = tmp_path / "db.sqlite3"
    with Storage(db) as storage:
        sync_list(storage, ListSource(LONG_NAME, str(repo.path)), tmp_path / "clones")
        site = Site(storage, parse_config({"feed": {"base_url": "https://feeds.example.org"}}))
        pages = {
            "home": site.index().body.decode(),
            "home-zh": site.index("zh").body.decode(),
            "search": site.search_page("optimization").body.decode(),
            "search-cjk": site.search_page("泛化", "zh").body.decode(),
            "bad-query": site.search_page(" ".join("w" * 13)).body.decode(),
        }
    for name, html in pages.items():
        assert width(html, tmp_path, name) <= 360, name
