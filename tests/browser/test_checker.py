"""Show that the browser checks fail when a page breaks a rule (a test that cannot fail is a defect)."""

from __future__ import annotations

import base64
import io
import wave

import pytest
import rendered_book

# As the book's pages load it: from the site's own _static/mathjax/ (the test site gets the
# same files as a built book, fetch_mathjax.copy_to_site).
MATHJAX = '<script defer src="_static/mathjax/es5/tex-mml-chtml.js"></script>'
# What the pages did before the book carried MathJax: offline, that shows raw TeX.
MATHJAX_CDN = (
    '<script defer src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>'
)
# MathJax's script alone, without the fonts it loads from beside it.
MATHJAX_NO_FONTS = '<script defer src="_static/bare/es5/tex-mml-chtml.js"></script>'

PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def _wav_b64() -> str:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * 1600)
    return base64.b64encode(buf.getvalue()).decode()


GOOD = f"""<html><head>{MATHJAX}</head><body>
<div class="math notranslate nohighlight">\\[x_t = \\sqrt{{\\bar\\alpha_t}} x_0\\]</div>
<audio controls><source src="data:audio/wav;base64,{_wav_b64()}" type="audio/wav"></audio>
<img src="data:image/png;base64,{PNG_1PX}">
<div class="cell_output"><pre>all good</pre></div>
<article><p>Prose with rendered math <span class="math">\\(x\\)</span> and a price of 3 dollars.</p>
<div class="exercise admonition"><p class="admonition-title">Exercise 1</p><p>Listen to both.</p></div>
<div class="cell"><div class="cell_output"><pre>\u274c answer is not right yet</pre></div></div>
<div class="solution admonition"><p class="admonition-title">Solution</p>
<audio controls><source src="data:audio/wav;base64,{_wav_b64()}" type="audio/wav"></audio></div>
</article>
</body></html>"""

BROKEN = {
    "console_error.html": "<script>console.error('boom')</script>",
    "uncaught.html": "<script>undefined_function()</script>",
    "math_not_rendered.html": '<div class="math">\\[x\\]</div>',  # no MathJax on the page
    "math_error.html": f'{MATHJAX}<div class="math">\\[\\frac{{1}}\\]</div>',
    "mathjax_from_cdn.html": f'{MATHJAX_CDN}<div class="math">\\[x_t = a_t x_0\\]</div>',
    "mathjax_fonts_missing.html": f'{MATHJAX_NO_FONTS}<div class="math">\\[x_t = a_t x_0\\]</div>',
    "audio_bad.html": '<audio controls><source src="data:audio/wav;base64,AAAA" type="audio/wav"></audio>',
    "audio_missing.html": '<audio controls><source src="missing.wav" type="audio/wav"></audio>',
    "image_missing.html": '<img src="_images/missing.png">',
    "traceback.html": '<div class="cell_output"><pre>Traceback (most recent call last):\n'
    '  File "x", line 1\nValueError: bad</pre></div>',
    "network.html": '<link rel="stylesheet" href="https://example.org/style.css">',
    "raw_math.html": "<article><p>The loss is $x_t = a x_0$ here.</p></article>",
    "raw_role.html": "<article><p>As shown by {cite}`ho2020ddpm`, the loss...</p></article>",
    "doubled_word.html": "<article><h2>Exercise Exercise 3</h2></article>",
    "stderr.html": '<div class="cell"><div class="cell_output"><div class="output stderr">'
    "<pre>/tmp/ipykernel_1/1.py:3: UserWarning: clipped</pre></div></div></div>",
    "progress_bar.html": '<div class="cell"><div class="cell_output"><div class="output stream">'
    "<pre>training:  40%|####      | 8/20 [00:01&lt;00:02]</pre></div></div></div>",
    "raises_nothing.html": '<div class="cell tag_raises-exception"><div class="cell_input">'
    '<pre>net(torch.randn(1, 1, 8000))</pre></div><div class="cell_output"><pre>tensor([0.])'
    "</pre></div></div>",
    "check_cannot_fail.html": '<article><div class="exercise admonition"><p class="admonition-title">'
    'Exercise 3</p><p>Set x.</p></div><div class="cell"><div class="cell_output"><pre>\u2705 x is '
    'correct</pre></div></div><div class="solution admonition"><p>x = 1</p></div></article>',
    "listen_no_player.html": '<article><div class="exercise admonition"><p class="admonition-title">'
    'Exercise 2</p><p>Listen to both clips.</p></div><div class="solution admonition">'
    '<p class="admonition-title">Solution</p><p>They differ.</p></div></article>',
    "traceback_in_untagged_cell.html": '<div class="cell tag_hide-input"><div class="cell_output">'
    "<pre>Traceback (most recent call last):\nValueError: bad</pre></div></div>",
}
# A deliberate error demo: the cell is tagged raises-exception, so its traceback is expected.
ERROR_DEMO = (
    '<div class="cell tag_raises-exception"><div class="cell_output">'
    "<pre>Traceback (most recent call last):\nValueError: x: expected mono</pre></div></div>"
)


@pytest.fixture(scope="module")
def reports(tmp_path_factory, chromium, mathjax_root):
    site = tmp_path_factory.mktemp("site")
    fetch_mathjax = rendered_book.fetch_mathjax()
    fetch_mathjax.copy_to_site(site / "_static" / "mathjax", mathjax_root)
    bare = site / "_static" / "bare" / fetch_mathjax.COMPONENT
    bare.parent.mkdir(parents=True)
    bare.write_bytes((mathjax_root / fetch_mathjax.COMPONENT).read_bytes())
    (site / "good.html").write_text(GOOD)
    (site / "error_demo.html").write_text(f"<html><body>{ERROR_DEMO}</body></html>")
    for name, body in BROKEN.items():
        (site / name).write_text(f"<html><body>{body}</body></html>")
    pages = ["good.html", "error_demo.html", *BROKEN]
    found = rendered_book.check_pages(site, pages, chromium=chromium)
    return {r.page: r for r in found}


def test_error_demo_in_raises_exception_cell_passes(reports):
    assert reports["error_demo.html"].problems == []


def test_good_page_passes(reports):
    good = reports["good.html"]
    assert good.problems == []
    assert good.n_math == 2 and good.n_audio == 2


@pytest.mark.parametrize(
    "page, expected",
    [
        ("console_error.html", "console error"),
        ("uncaught.html", "uncaught"),
        ("math_not_rendered.html", "math not rendered"),
        ("math_error.html", "MathJax error"),
        ("mathjax_from_cdn.html", "loads from another host"),
        ("mathjax_from_cdn.html", "needs the network"),
        ("mathjax_from_cdn.html", "math not rendered"),
        ("mathjax_fonts_missing.html", "a file of the site does not load: _static/bare/es5/output"),
        ("mathjax_fonts_missing.html", "font did not load"),
        ("audio_bad.html", "not playable"),
        ("audio_missing.html", "not playable"),
        ("image_missing.html", "image does not load"),
        ("traceback.html", "holds an error"),
        ("network.html", "needs the network"),
        ("traceback_in_untagged_cell.html", "holds an error"),
        ("raw_math.html", "raw math in prose"),
        ("raw_role.html", "raw MyST role"),
        ("doubled_word.html", 'doubled word: "Exercise Exercise"'),
        ("stderr.html", "stderr output"),
        ("progress_bar.html", "progress bar"),
        ("raises_nothing.html", "did not raise"),
        ("listen_no_player.html", 'says "listen" with no player'),
        ("check_cannot_fail.html", "does not fail on the placeholder"),
    ],
)
def test_broken_page_is_caught(reports, page, expected):
    problems = reports[page].problems
    assert any(expected in p for p in problems), f"{page}: expected {expected!r} in {problems}"
