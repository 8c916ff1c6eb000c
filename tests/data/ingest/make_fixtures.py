"""Writes the ingest test fixtures: Hindi article pages in site boilerplate, feeds, sitemaps, expected.json.

Run from the repository root: ``python tests/data/ingest/make_fixtures.py``. The article bodies are real
Hindi text: the five seed articles and paragraphs of XQuAD's Hindi corpus (CC BY-SA 4.0).
"""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from index.corpus import parse_article  # noqa: E402

SITE = "समाचार दर्पण"
HOST = ""  # links are root-relative: the test server listens on a port chosen at run time

NAV = """<header class="site-header"><a class="logo" href="/">समाचार दर्पण</a>
<nav><ul><li><a href="/">होम</a></li><li><a href="/desh/">देश</a></li><li><a href="/videsh/">विदेश</a></li>
<li><a href="/khel/">खेल</a></li><li><a href="/business/">Business</a></li><li><a href="/tech/">Tech</a></li>
<li><a href="/epaper/">ई-पेपर</a></li><li><a href="/login/">Login</a></li></ul></nav>
<div class="breaking">ब्रेकिंग न्यूज़: <a href="/live/">लाइव अपडेट के लिए यहां क्लिक करें</a></div></header>"""
SHARE = """<div class="share-buttons"><span>इसे शेयर करें:</span> <a href="https://facebook.com/sharer">Facebook</a>
<a href="https://twitter.com/intent/tweet">Twitter</a> <a href="https://wa.me/">WhatsApp</a>
<a href="mailto:?subject=news">Email</a> <button>Copy link</button></div>"""
AD_EN = """<div class="ad ad-banner"><a href="https://ads.example/loan">Advertisement: Get an instant personal
loan at 9.99% interest! Apply now</a></div>"""
AD_HI = """<aside class="ad sponsored"><p>विज्ञापन: सबसे सस्ते स्मार्टफोन पर 70% तक की छूट, आज ही खरीदें!</p>
<a href="https://ads.example/phone">अभी खरीदें</a></aside>"""
RELATED = """<section class="related"><h3>संबंधित खबरें</h3><ul>
<li><a href="/videsh/other-1.html">संयुक्त राष्ट्र में प्रस्ताव पर मतदान आज</a></li>
<li><a href="/desh/other-2.html">मौसम विभाग ने भारी बारिश की चेतावनी जारी की</a></li>
<li><a href="/khel/other-3.html">क्रिकेट: भारत ने श्रृंखला 2-1 से जीती</a></li>
<li><a href="/tech/other-4.html">Top 10 smartphones under Rs 20,000</a></li></ul></section>"""
COMMENTS = """<section id="comments" class="comments"><h3>टिप्पणियाँ (3)</h3>
<div class="comment"><b>रमेश</b> <span>2 घंटे पहले</span><p>बहुत अच्छी जानकारी, धन्यवाद।</p></div>
<div class="comment"><b>John</b> <span>1 hour ago</span><p>Great article, thanks for sharing!</p></div>
<div class="comment"><b>सुनीता</b><p>सरकार को इस पर ध्यान देना चाहिए।</p></div>
<form><textarea placeholder="अपनी टिप्पणी लिखें"></textarea><button>Post comment</button></form></section>"""
FOOTER = """<footer><p>© 2024 समाचार दर्पण. सर्वाधिकार सुरक्षित। All rights reserved.</p>
<ul><li><a href="/about/">हमारे बारे में</a></li><li><a href="/privacy/">Privacy Policy</a></li>
<li><a href="/contact/">संपर्क करें</a></li></ul>
<p>हमें यहां व्हाट्सएप पर फॉलो करें | Follow us on Google News</p></footer>"""

XQUAD_TITLES = {
    "xq-0-0": "पैंथर्स की डिफ़ेन्स ने लीग में केवल 308 अंक दिए",
    "xq-1-3": "पोलैंड में क्षेत्रीय विभाजन की मूल इकाई कम्यून",
    "xq-2-2": "इटली में नॉर्मन्स और बीजान्टिन साम्राज्य",
    "xq-3-1": "एडिसन की कंपनी छोड़ने के बाद टेस्ला",
    "xq-4-0": "कम्प्यूटेशनल जटिलता सिद्धांत क्या है",
    "xq-6-2": "लूथर के बाइबिल संस्करण का तेजी से प्रसार",
    "xq-7-1": "दक्षिणी कैलिफोर्निया के महानगरीय क्षेत्र",
}


def articles() -> list[dict]:
    """The articles: slug, title, date, author, body paragraphs."""
    out = []
    for n, path in enumerate(sorted((ROOT / "seeds").glob("*.txt"))):
        title, _date, body = parse_article(path.read_text("utf-8"))
        out.append({"slug": f"videsh/seed-{n}", "title": title, "date": f"2024-11-{18 + n:02d}",
                    "author": "संवाददाता", "paragraphs": [p.strip() for p in body.split("\n") if p.strip()]})
    rows = {r["id"]: r for r in map(json.loads, (ROOT / "tests/data/xquad/xquad_hi_corpus.jsonl").open(encoding="utf-8"))}
    for n, (doc_id, title) in enumerate(XQUAD_TITLES.items()):
        text = rows[doc_id]["text"]
        sentences = [s.strip() + "।" for s in text.split("।") if s.strip()]
        half = max(1, len(sentences) // 2)
        paragraphs = [" ".join(sentences[:half]), " ".join(sentences[half:])]
        out.append({"slug": f"gyan/xquad-{n}", "title": title, "date": f"2024-10-{10 + n:02d}",
                    "author": "ज्ञान डेस्क", "paragraphs": [p for p in paragraphs if p]})
    return out


def page(a: dict, kind: str = "plain", charset: str = "utf-8") -> str:
    url = f"{HOST}/{a['slug']}.html"
    title, body = html.escape(a["title"]), "\n".join(f"<p>{html.escape(p)}</p>" for p in a["paragraphs"])
    head = [f'<meta charset="{charset}">', f"<title>{title} | {SITE}</title>",
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta property="og:title" content="{title}">', '<meta property="og:type" content="article">',
            f'<meta property="og:site_name" content="{SITE}">',
            f'<meta property="article:published_time" content="{a["date"]}T09:30:00+05:30">',
            f'<meta name="author" content="{html.escape(a["author"])}">']
    attrs = ' lang="hi"'
    if kind == "amp":
        attrs = ' amp lang="hi"'
        head.append(f'<link rel="canonical" href="{url}">')
        head.append('<script async src="https://cdn.ampproject.org/v0.js"></script>')
        head.append("<style amp-boilerplate>body{visibility:hidden}</style>")
        url = f"{HOST}/{a['slug']}.amp.html"
    else:
        head.append(f'<link rel="canonical" href="{url}">')
        head.append(f'<link rel="amphtml" href="{HOST}/{a["slug"]}.amp.html">')
    if kind == "jsonld":
        ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": a["title"],
              "datePublished": f"{a['date']}T09:30:00+05:30", "author": {"@type": "Person", "name": a["author"]},
              "publisher": {"@type": "Organization", "name": SITE}, "mainEntityOfPage": url}
        head.append(f'<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>')
    ad_slot = '<amp-ad width="300" height="250" type="adsense"></amp-ad>' if kind == "amp" else AD_EN
    return f"""<!DOCTYPE html>
<html{attrs}><head>
{chr(10).join(head)}
</head><body>
{NAV}
{ad_slot}
<main><article class="story">
<div class="breadcrumb"><a href="/">होम</a> › <a href="/videsh/">विदेश</a></div>
<h1 class="headline">{title}</h1>
<div class="byline">लेखक: <span class="author">{html.escape(a['author'])}</span> |
<time datetime="{a['date']}T09:30:00+05:30">{a['date']}</time></div>
{SHARE}
<div class="story-body">
{body}
</div>
{SHARE}
</article>
{AD_HI}
{RELATED}
{COMMENTS}
</main>
{FOOTER}
</body></html>
"""


ENGLISH = ["North Korea has rejected claims that it sent troops to Russia for use in the Ukraine conflict, calling "
           "the reports an attempt to tarnish Pyongyang's image.",
           "Last week, Ukrainian leader Vladimir Zelensky accused North Korea of sending weapons and military "
           "personnel to Russia. South Korea later raised concerns over the alleged movement of troops and "
           "summoned the Russian ambassador in Seoul.",
           "Speaking to reporters, the deputy foreign minister said the country's relations with Moscow were "
           "lawful and that it would not comment on unfounded rumours spread by hostile powers."]


def section_page(articles: list[dict]) -> str:
    """A section front: headlines and teasers only, no article."""
    items = "\n".join(f'<li><a href="/{a["slug"]}.html">{html.escape(a["title"])}</a> <span>{a["date"]}</span></li>'
                       for a in articles)
    return f"""<!DOCTYPE html>
<html lang="hi"><head><meta charset="utf-8"><title>विदेश | {SITE}</title>
<meta property="og:type" content="website"></head><body>
{NAV}
<main><h1>विदेश</h1><ul class="story-list">
{items}
</ul>{AD_HI}</main>
{FOOTER}
</body></html>
"""


def video_page() -> str:
    return f"""<!DOCTYPE html>
<html lang="hi"><head><meta charset="utf-8"><title>वीडियो: संसद में हंगामा | {SITE}</title>
<meta property="og:type" content="video.other"><meta property="og:title" content="वीडियो: संसद में हंगामा">
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "VideoObject", "name": "संसद में हंगामा"}}</script>
</head><body>
{NAV}
<main><h1>वीडियो: संसद में हंगामा</h1><video src="/video/clip.mp4" controls></video>
<p>देखिए पूरा वीडियो।</p>{SHARE}{RELATED}</main>
{FOOTER}
</body></html>
"""


def main() -> None:
    site = HERE / "site"
    all_articles = articles()
    expected = {}
    for n, a in enumerate(all_articles):
        kind, charset = "plain", "utf-8"
        if n == 0:
            kind, charset = "jsonld", "utf-8"
        elif n == 3:
            charset = "utf-16"  # a legacy non-UTF-8 page; declared in the HTTP header and the meta tag
        target = site / f"{a['slug']}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        text = page(a, kind, charset)
        target.write_bytes(text.encode(charset))
        if n == 1:
            (site / f"{a['slug']}.amp.html").write_text(page(a, "amp"), "utf-8")
        expected[f"/{a['slug']}.html"] = {"title": a["title"], "date": a["date"], "author": a["author"],
                                          "text": "\n".join(a["paragraphs"]), "charset": charset}
    # The AMP page of article 1 is fetched on its own too: it must come out as the same article.
    expected[f"/{all_articles[1]['slug']}.amp.html"] = {**expected[f"/{all_articles[1]['slug']}.html"],
                                                          "canonical": f"/{all_articles[1]['slug']}.html"}
    (site / "videsh" / "index.html").write_text(section_page(all_articles), "utf-8")
    (site / "video").mkdir(exist_ok=True)
    (site / "video" / "clip.html").write_text(video_page(), "utf-8")
    english = {"slug": "world/english", "title": "North Korea denies sending troops to Russia",
               "date": "2024-11-01", "author": "Staff Reporter", "paragraphs": ENGLISH}
    (site / "world").mkdir(exist_ok=True)
    (site / "world" / "english.html").write_text(page(english).replace('lang="hi"', 'lang="en"'), "utf-8")
    expected["/world/english.html"] = {"title": english["title"], "date": english["date"],
                                       "author": english["author"], "text": "\n".join(ENGLISH),
                                       "charset": "utf-8", "lang": "en"}
    (HERE / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(f"wrote {len(all_articles)} articles into {site}")


if __name__ == "__main__":
    main()
