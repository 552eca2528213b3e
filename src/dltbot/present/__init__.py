"""What every output shares, so that all of them show and link an entry the same way.

- `paths`: every path the server answers and the export writes; `links.Links`: those paths as
  absolute URLs under the one public base URL, and the registry of documents (which feeds,
  digests, formats and alternates a list has) that the site serves, the export writes, WebSub
  pings and the page links.
- `catalogue`: every string a reader sees, in English and Chinese.
- `view`: one entry as every output shows it, and the two escapers (HTML, Telegram HTML).
- `data`: entries and events as the JSON outputs give them.

Nothing here imports from an output (site, page, feed, export, web, bot): the arrows run one
way, from the outputs down to this package.
"""
