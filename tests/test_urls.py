"""URL identity and forge links."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dltbot import urls
from dltbot.present.links import commit_url


@pytest.mark.parametrize(
    ("raw", "identity"),
    [
        ("https://www.Example.org/path/", "example.org/path"),
        ("http://example.org/path", "example.org/path"),
        ("  https://example.org/x  ", "example.org/x"),
        ("(https://example.org/x)", "example.org/x"),
        ("https://example.org/p?utm_source=a&id=3&utm_medium=b", "example.org/p?id=3"),
        ("https://arxiv.org/pdf/2012.10931.pdf", "arxiv.org/abs/2012.10931"),
        ("https://arxiv.org/pdf/2012.10931", "arxiv.org/abs/2012.10931"),
        ("https://arxiv.org/abs/2012.10931", "arxiv.org/abs/2012.10931"),
        ("https://example.org:8443/a", "example.org:8443/a"),
        ("https://example.org/a#frag", "example.org/a#frag"),
        ("mailto:me@example.org", "mailto:me@example.org"),
        ("guide.md", "guide.md"),
        ("http://[::1", "http://[::1"),
    ],
)
def test_identity(raw: str, identity: str) -> None:
    assert urls.identity(raw) == identity


def test_clean_keeps_the_url_as_written_but_trimmed() -> None:
    assert urls.clean(" (https://x.org/A?b=1) ") == "https://x.org/A?b=1"


@pytest.mark.parametrize(
    ("remote", "base", "commit"),
    [
        (
            "https://github.com/foocker/deeplearningtheory",
            "https://github.com/foocker/deeplearningtheory/blob/main/",
            "https://github.com/foocker/deeplearningtheory/commit/abc",
        ),
        (
            "git@github.com:o/r.git",
            "https://github.com/o/r/blob/main/",
            "https://github.com/o/r/commit/abc",
        ),
        (
            "https://gitlab.com/g/sub/r.git",
            "https://gitlab.com/g/sub/r/-/blob/main/",
            "https://gitlab.com/g/sub/r/-/commit/abc",
        ),
        (
            "https://codeberg.org/o/r.git",
            "https://codeberg.org/o/r/src/branch/main/",
            "https://codeberg.org/o/r/commit/abc",
        ),
        (
            "https://reader:secret@github.com/o/r.git",
            "https://github.com/o/r/blob/main/",
            "https://github.com/o/r/commit/abc",
        ),
        ("/srv/lists/r.bundle", None, None),
    ],
)
def test_forge_links(remote: str, base: str | None, commit: str | None) -> None:
    assert urls.blob_base(remote, "main", "README.md") == base
    assert commit_url(remote, "abc") == commit


def test_blob_base_uses_the_list_file_directory() -> None:
    assert (
        urls.blob_base("https://github.com/o/r", "dev", "docs/list.md")
        == "https://github.com/o/r/blob/dev/docs/"
    )


@settings(max_examples=2000, deadline=None)
@given(
    st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", ""]),
    st.text(alphabet="abcXYZ.-_~/www泛化:@?#%[] \t", max_size=30),
)
def test_the_fast_path_agrees_with_urlsplit(scheme: str, rest: str) -> None:
    url = scheme + rest
    fast = urls._plain_identity(url)
    if fast is not None:
        assert fast == urls._identity(url)
