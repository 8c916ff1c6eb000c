"""The search page end to end: headless Chromium (Playwright) against a real server, and the page without JavaScript."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from web.markup import lang_of, paragraphs, safe_snippet, safe_url

ARTIFACTS = Path(__file__).parent / "artifacts"
TREATY_DOC = "003_f3897ac51716b5c2"


def test_search_read_and_explain_in_a_browser(server, service, page):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(server.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    box = page.get_by_label("Search Hindi news")
    expect(box).to_be_focused()  # autofocus: type straight away
    box.fill("treaty ratification")
    box.press("Enter")  # the keyboard submits the GET form
    page.wait_for_url(re.compile(r"/\?q=treaty\+ratification"))

    hits = page.locator("ol.hits > li")
    expect(hits.first).to_be_visible()
    assert hits.count() >= 3
    expect(page.locator("#results-title")).to_contain_text("English query")
    expect(page.locator("ol.hits .snippet mark").first).to_be_visible()
    expect(hits.first.locator(".hit-title a")).to_have_attribute("lang", "hi")
    shown = service.search("treaty ratification").shown_expansion()
    if shown:  # the English query was also searched with Hindi terms: say which, as written
        line = page.locator("p.expansion")
        expect(line).to_contain_text("Also searched")
        expect(line).to_contain_text(", ".join(shown))

    why = hits.first.locator("details.why")
    expect(why.locator("table")).to_be_hidden()
    why.locator("summary").focus()
    page.keyboard.press("Enter")  # <details> opens from the keyboard
    expect(why).to_have_attribute("open", "")
    expect(why.locator("table")).to_be_visible()
    expect(why).to_contain_text("Words (BM25)")
    expect(why).to_contain_text("Meaning (dense)")
    expect(why).to_contain_text("Lexical weight")
    page.screenshot(path=str(ARTIFACTS / "results.png"), full_page=True)

    title = hits.first.locator(".hit-title a")
    title_text = title.inner_text().strip()
    title.click()
    page.wait_for_url(re.compile(r"/documents/"))
    doc_id = urllib.parse.unquote(urllib.parse.urlsplit(page.url).path.rsplit("/", 1)[1])
    doc = service.document(doc_id)
    expect(page.locator("html")).to_have_attribute("lang", doc["lang"])
    expect(page.locator("article h1")).to_have_text(title_text)
    shown = page.locator("article .body p")
    expected = paragraphs(doc["text"])
    assert len(expected) > 1
    expect(shown).to_have_count(len(expected))
    assert [p.strip() for p in shown.all_inner_texts()] == expected
    page.screenshot(path=str(ARTIFACTS / "document.png"), full_page=True)

    page.get_by_role("link", name="Back to results").click()
    expect(page.locator("#q")).to_have_value("treaty ratification")
    assert page.problems == []


def test_the_page_fits_a_phone(server, browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(server.url + "/?" + urllib.parse.urlencode({"q": "उत्तर कोरिया रूस संधि की पुष्टि"}))
        assert page.locator("ol.hits > li").count() >= 1
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "results-phone.png"))
    finally:
        context.close()


def test_results_without_javascript(server, browser):
    # the browser with scripting off ...
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        page.fill("#q", "उत्तर कोरिया रूस संधि की पुष्टि")
        page.select_option("#mode", "bm25")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"mode=bm25"))
        assert page.locator("ol.hits > li").count() >= 1
        assert TREATY_DOC in page.locator("ol.hits > li").first.locator("a").first.get_attribute("href")
    finally:
        context.close()
    # ... and plain HTTP: the results are in the HTML itself
    url = server.url + "/?" + urllib.parse.urlencode({"q": "उत्तर कोरिया रूस संधि की पुष्टि"})
    with urllib.request.urlopen(url, timeout=60) as r:
        html = r.read().decode("utf-8")
    assert '<ol class="hits"' in html
    assert f'href="/documents/{TREATY_DOC}?q=' in html
    assert "<mark>" in html
    assert "<details" in html
    # the one script is ours, from /static (the CSP allows nothing else), and nothing runs inline
    assert len(re.findall(r"<script[^>]*>\s*</script>", html)) == len(re.findall(r"<script[^>]*>", html)) == 1
    assert all('src="/static/suggest.js"' in tag for tag in re.findall(r"<script[^>]*>", html))


def test_pagination_keeps_query_mode_and_k(server):
    import html as html_lib

    def get(path: str) -> str:
        with urllib.request.urlopen(server.url + path, timeout=60) as r:
            return r.read().decode("utf-8")

    q = "उत्तर कोरिया रूस संधि की पुष्टि"
    first = get("/?" + urllib.parse.urlencode({"q": q, "mode": "dense", "k": 2}))
    assert '<ol class="hits" start="1">' in first and 'rel="prev"' not in first
    next_link = html_lib.unescape(re.search(r'<a rel="next" href="([^"]+)"', first).group(1))
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(next_link).query)
    assert params == {"q": [q], "mode": ["dense"], "k": ["2"], "page": ["2"]}
    second = get(next_link)
    assert '<ol class="hits" start="3">' in second
    assert second.count('class="hit"') == 2
    assert 'rel="prev"' in second and 'rel="next"' in second
    assert "Page 2 of 3" in second
    last = get("/?" + urllib.parse.urlencode({"q": q, "mode": "dense", "k": 2, "page": 3}))
    assert last.count('class="hit"') == 1 and 'rel="next"' not in last


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
def test_the_empty_state_says_why_and_what_to_try(server, service, mode):
    """Whatever the service finds for a nonsense query, the page shows it: its empty state when nothing matches."""
    q = "xyzzy qwertyuiop"
    response = service.search(q, mode=mode)
    with urllib.request.urlopen(server.url + "/?" + urllib.parse.urlencode({"q": q, "mode": mode}), timeout=60) as r:
        html = r.read().decode("utf-8")
    if response.total:
        assert html.count('class="hit"') == len(response.hits)
        return
    assert '<ol class="hits"' not in html and 'class="empty"' in html and 'rel="next"' not in html
    assert "Nothing matches “<span" in html and "Try fewer or other words" in html
    if response.empty_reason:
        from markupsafe import escape

        assert f'<span class="reason">{escape(response.empty_reason)}</span>' in html


@pytest.mark.parametrize("snippet, html", [
    ("a <mark>संधि</mark> b", "a <mark>संधि</mark> b"),
    ("AT&amp;T &lt;b&gt;", "AT&amp;T &lt;b&gt;"),
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("<mark onclick=x>a</mark>", "&lt;mark onclick=x&gt;a"),
    ("<MARK>a</MARK>", "&lt;MARK&gt;a&lt;/MARK&gt;"),
    ("<mark>a<mark>b</mark></mark>c", "<mark>ab</mark>c"),
    ("<mark>open", "<mark>open</mark>"),
    ("</mark>x", "x"),
    ("&lt;script&gt;<mark>x</mark>", "&lt;script&gt;<mark>x</mark>"),
    ("\"quoted\" 'single'", "&#34;quoted&#34; &#39;single&#39;"),
])
def test_snippets_keep_only_balanced_marks(snippet, html):
    assert str(safe_snippet(snippet)) == html


@pytest.mark.parametrize("url, safe", [
    ("https://example.com/a?b=1", "https://example.com/a?b=1"),
    ("http://example.com", "http://example.com"),
    ("javascript:alert(1)", ""),
    (" JavaScript:alert(1)", ""),
    ("data:text/html,<script>", ""),
    ("//evil.example/x", ""),
    ("", ""),
])
def test_only_http_links_are_rendered(url, safe):
    assert safe_url(url) == safe


@pytest.mark.parametrize("text, lang", [("उत्तर कोरिया", "hi"), ("North Korea", "en"), ("123", "")])
def test_lang_of(text, lang):
    assert lang_of(text) == lang


def test_corrections_and_suggestions_in_a_browser(server, page):
    from playwright.sync_api import expect

    page.goto(server.url + "/?" + urllib.parse.urlencode({"q": "tretay ratifcation"}))
    note = page.locator("p.understood.corrected")
    expect(note).to_contain_text("Showing results for treaty ratification")
    expect(note).to_contain_text("search instead for tretay ratifcation")
    assert TREATY_DOC in page.locator("ol.hits > li").first.locator("a").first.get_attribute("href")
    note.get_by_role("link", name="tretay ratifcation").click()  # correction off
    page.wait_for_url(re.compile(r"exact=1"))
    expect(page.locator("p.did-you-mean")).to_contain_text("Did you mean treaty ratification?")

    page.goto(server.url + "/?" + urllib.parse.urlencode({"q": "uttar korea ne rus ke saath sandhi ki"}))
    expect(page.locator("#results-title")).to_contain_text("Hindi (romanized) query")
    expect(page.locator("p.understood")).to_contain_text("Searched as: उत्तर कोरिया ने रूस के साथ संधि")

    box = page.get_by_label("Search Hindi news")
    box.fill("")
    box.type("uttar kor", delay=20)  # suggestions as you type, in Devanagari, through the CSP
    options = page.locator("datalist#suggestions option")
    expect(options.first).to_be_attached(timeout=10000)
    values = [options.nth(i).get_attribute("value") for i in range(options.count())]
    assert any("उत्तर कोरिया" in v for v in values), values
    assert page.problems == [], page.problems  # no CSP violation, no script error


#: Canvas renderings, as PNG data URLs, of two different Devanagari letters and of a character no font
#: has (U+FFFF), in the page's font: where Devanagari has no font, both letters are the same empty box.
_RASTERS = """() => {
  const font = "32px " + getComputedStyle(document.querySelector("#deva")).fontFamily;
  const draw = (text) => {
    const canvas = document.createElement("canvas");
    canvas.width = 80; canvas.height = 60;
    const context = canvas.getContext("2d");
    context.font = font;
    context.fillText(text, 10, 44);
    return canvas.toDataURL();
  };
  return {ka: draw("\\u0915"), kha: draw("\\u0916"), tofu: draw("\\uffff"), font: font};
}"""


def test_devanagari_renders_as_glyphs_of_a_font_the_page_names(page):
    # the page's own stylesheet, over a headline (no server needed: this is about fonts)
    page.set_content('<h3 class="hit-title"><a id="deva" lang="hi" href="#">उत्तर कोरिया ने संधि की पुष्टि की</a></h3>')
    page.add_style_tag(path=str(Path(__file__).parent.parent / "web" / "static" / "style.css"))
    stack = page.evaluate("getComputedStyle(document.querySelector('#deva')).fontFamily")
    # the fonts Chromium drew it with (DevTools protocol): a Devanagari font, named in the stack
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#deva"})["nodeId"]
    used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    devanagari = [f for f in used if "devanagari" in f["familyName"].lower()]
    assert devanagari and devanagari[0]["glyphCount"] > 0, f"no Devanagari font (run .ci/setup): {used}"
    assert devanagari[0]["familyName"] in stack, (used, stack)
    # and the glyphs are letters, not boxes: two letters differ from each other and from a missing glyph
    drawn = page.evaluate(_RASTERS)
    assert drawn["ka"] != drawn["kha"], f"क and ख draw the same (boxes) in {drawn['font']}"
    assert drawn["tofu"] not in (drawn["ka"], drawn["kha"])
