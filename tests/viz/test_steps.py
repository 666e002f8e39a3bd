"""backprop_steps: the self-contained step-through page, checked as written and
in a real headless browser (clicks, keyboard, URL hash)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest

import gradsight as gs
from gradsight.autograd import trace_backward
from gradsight.viz import StepPage, backprop_steps

from .helpers import ClassText, XorNet, dump_dom, label_numbers, requires_browser, requires_dot


def page_data(path) -> dict:
    text = path.read_text(encoding="utf-8")
    raw = re.search(r'<script type="application/json" id="gs-data">(.*?)</script>', text, re.S)
    return json.loads(raw.group(1))


def engine_order(loss) -> list[str]:
    return [s.node.name for s in trace_backward(loss)]


def shown_values(pre_text: str) -> np.ndarray:
    return np.array(label_numbers(pre_text.split("shape")[0]))


@pytest.fixture
def xor_page(tmp_path):
    net = XorNet()
    path = backprop_steps(net.loss, tmp_path / "backprop.html", params=net.params)
    return net, path


# ------------------------------------------------------------ the file itself
def test_page_is_one_self_contained_file(xor_page):
    net, path = xor_page
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    lowered = text.lower()
    for needle in ("<link", " src=", "href=", "url(", "@import", "fetch(", "xmlhttprequest"):
        assert needle not in lowered, needle
    # the only URLs are XML namespace names inside the inline SVG, never loaded
    urls = set(re.findall(r"https?://[^\s\"'<>]+", text))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert not list(path.parent.glob(".gs-*"))  # the temporary file was renamed away


def test_steps_follow_the_engine_and_carry_the_right_gradients(xor_page):
    net, path = xor_page
    data = page_data(path)
    steps = data["steps"]
    order = engine_order(net.loss)
    assert len(steps) == len(order) == 12  # 8 ops + 4 parameters
    assert [s["title"].split(":")[0] for s in steps] == order
    want = net.oracle()
    by_title = {s["title"]: s for s in steps}
    np.testing.assert_allclose(
        shown_values(by_title["AccumulateGrad: hidden.W, shape (4, 2)"]["received"]),
        want["W"].ravel(),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        shown_values(by_title["AccumulateGrad: output.c, shape (1,)"]["received"]),
        want["c"],
        rtol=1e-5,
    )
    # the output sigmoid's backward turns dL/dŷ into dL/dz2 = dL/dŷ · ŷ(1 - ŷ)
    sig = [s for s in steps if s["title"] == "SigmoidBackward"][0]
    np.testing.assert_allclose(shown_values(sig["received"]), want["out"].ravel(), rtol=1e-5)
    np.testing.assert_allclose(shown_values(sig["sent"][0]["value"]), want["z2"].ravel(), rtol=1e-5)
    assert "y·(1 − y)" in sig["rule"]
    # every highlighted id exists in the embedded SVG (when dot is there)
    text = path.read_text(encoding="utf-8")
    if "<svg" in text:
        for s in steps:
            for element_id in s["nodes"] + s["received_ids"] + s["targets"] + s["edges"]:
                assert f'id="{element_id}"' in text, element_id


def test_drawing_the_steps_does_not_touch_grad_or_free_the_graph(tmp_path):
    net = XorNet()
    backprop_steps(net.loss, tmp_path / "a.html", params=net.params)
    assert all(p.grad is None for p in net.params.values())
    net.loss.backward()  # the graph is still there
    np.testing.assert_allclose(net.W.grad.data, net.oracle()["W"], rtol=1e-10)


def test_refuses_what_it_cannot_show(tmp_path):
    net = XorNet()
    net.loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        backprop_steps(net.loss, tmp_path / "a.html")
    kept = XorNet()
    kept.loss.backward(retain_graph=True)
    assert backprop_steps(kept.loss, tmp_path / "b.html").exists()
    with pytest.raises(ValueError, match="single-element"):
        backprop_steps(kept.out, tmp_path / "c.html")
    with pytest.raises(ValueError, match="does not require grad"):
        backprop_steps(gs.tensor(1.0), tmp_path / "d.html")
    with pytest.raises(TypeError, match="Tensor"):
        backprop_steps(1.0, tmp_path / "e.html")
    assert not (tmp_path / "a.html").exists() and not (tmp_path / "c.html").exists()


# ------------------------------------------------------------ in a real browser
def parse(dom: str, cls: str = "current") -> ClassText:
    p = ClassText(cls)
    p.feed(dom)
    return p


def check_last_step(dom: str, net: XorNet, n: int) -> None:
    last = trace_backward(net.loss)[-1].node  # the engine's last step: a parameter
    name = [k for k, t in net.params.items() if t is last.variable][0]
    p = parse(dom)
    assert p.text_of("counter") == f"{n} / {n}"
    assert p.text_of("step-title").startswith(f"Step {n} of {n}: AccumulateGrad: {name}")
    body = p.text_of("step-body")
    want = net.oracle()[name.split(".")[1]]
    np.testing.assert_allclose(shown_values(body.split(":", 1)[1]), want.ravel(), rtol=1e-5)
    if "<svg" in dom:
        (current,) = p.hits  # exactly one node is current: that parameter's box
        assert name in "".join(current)
    assert f'data-step="{n}"' in dom


@requires_browser
def test_browser_opens_at_the_last_step_from_the_url(xor_page, tmp_path):
    net, path = xor_page
    dom = dump_dom(path.as_uri() + "#step=last", tmp_path / "profile")
    check_last_step(dom, net, 12)


@requires_browser
def test_browser_clicking_next_walks_the_backward_pass(xor_page, tmp_path):
    net, path = xor_page
    text = path.read_text(encoding="utf-8")
    steps = page_data(path)["steps"]

    def after_clicks(k: int) -> str:
        script = (
            "<script>var b = document.getElementById('next');"
            f"for (var i = 0; i < {k}; i++) {{ b.click(); }}</script></body>"
        )
        clicked = tmp_path / f"clicked{k}.html"
        clicked.write_text(text.replace("</body>", script), encoding="utf-8")
        return dump_dom(clicked.as_uri(), tmp_path / f"profile{k}")

    dom = after_clicks(5)  # the fifth step: the output sigmoid's backward
    p = parse(dom)
    assert p.text_of("step-title") == f"Step 5 of 12: {engine_order(net.loss)[4]}"
    assert steps[4]["title"] == "SigmoidBackward"
    sent = p.text_of("step-body").split("Sent to input 0")[1].split(":", 1)[1]
    np.testing.assert_allclose(shown_values(sent), net.oracle()["z2"].ravel(), rtol=1e-5)
    if "<svg" in dom:
        assert len(parse(dom, "done").hits) == 2 * 4  # four ops and their outputs are done
        assert len(parse(dom, "sent").hits) == 1  # one edge carries the gradient on
    check_last_step(after_clicks(15), net, 12)  # clicking past the end stays at the end


@requires_browser
def test_browser_keyboard_and_slider(xor_page, tmp_path):
    net, path = xor_page
    text = path.read_text(encoding="utf-8")
    script = """<script>
    function key(k) { document.dispatchEvent(new KeyboardEvent('keydown', {key: k})); }
    key('End'); key('ArrowLeft'); key('ArrowLeft'); key('ArrowRight');
    document.body.setAttribute('data-after-keys', document.getElementById('counter').textContent);
    var s = document.getElementById('slider'); s.value = '3';
    s.dispatchEvent(new Event('input'));
    document.body.setAttribute('data-hash', location.hash);
    </script></body>"""
    page = tmp_path / "keys.html"
    page.write_text(text.replace("</body>", script), encoding="utf-8")
    dom = dump_dom(page.as_uri(), tmp_path / "profile")
    assert 'data-after-keys="11 / 12"' in dom
    assert parse(dom).text_of("counter") == "3 / 12"
    assert 'data-hash="#step=3"' in dom  # the URL follows, so a link points at a step
    assert parse(dom).text_of("step-title").startswith("Step 3 of 12: ")


@requires_browser
@requires_dot
def test_hostile_names_stay_text_in_the_page(tmp_path):
    evil = '</script><b id="evil">x</b><script>document.title="pwned"</script>'
    net = XorNet(names=(evil, "hidden.b", "output.V", "output.c"))
    path = backprop_steps(
        net.loss, tmp_path / "evil.html", params=net.params, title='<i id="t">title</i>'
    )
    dom = dump_dom(path.as_uri() + "#step=last", tmp_path / "profile")
    p = parse(dom)
    assert "evil" not in p.by_id and "t" not in p.by_id  # no element was injected
    assert "pwned" not in p.text_of("title")
    assert p.text_of("title") == '<i id="t">title</i>'
    steps = page_data(path)["steps"]
    assert any(evil in s["title"] for s in steps)
    shown = [s for s in steps if evil in s["title"]][0]
    assert len(steps) == 12 and shown["nodes"][0].startswith("gs_n")


# ------------------------------------------------------------ inline, in a notebook
def frame_of(fragment: str) -> dict:
    """The attributes (unescaped) of the one iframe in an HTML fragment, as a browser reads
    them."""
    found = []

    class Frames(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "iframe":
                found.append(dict(attrs))

    Frames().feed(fragment)
    (frame,) = found
    assert frame["sandbox"] == "allow-scripts"  # its script runs, apart from the notebook
    return frame


def test_without_a_path_the_page_is_returned_to_show_inline(xor_page, tmp_path):
    net, path = xor_page
    page = backprop_steps(net.loss, params=net.params)
    assert isinstance(page, StepPage) and page.steps == 12
    assert page.html == path.read_text(encoding="utf-8")  # the very page the file holds
    assert frame_of(page._repr_html_())["srcdoc"] == page.html  # escaped once, read back whole
    assert repr(page) == "<gs.viz step-through page 'Backpropagation, step by step': 12 steps>"
    saved = page.save(tmp_path / "saved.html")
    assert saved.read_text(encoding="utf-8") == page.html
    assert net.params["hidden.W"].grad is None  # .grad untouched, as with a path


def test_the_inline_page_cannot_leave_its_attribute():
    evil = '"><script>alert(1)</script><b id="evil">'
    net = XorNet(names=(evil, "hidden.b", "output.V", "output.c"))
    page = backprop_steps(net.loss, params=net.params, title=evil)
    fragment = page._repr_html_()
    assert fragment.count("<") == 2 and fragment.startswith("<iframe ")  # <iframe>, </iframe>
    frame = frame_of(fragment)
    assert frame["title"] == evil and frame["srcdoc"] == page.html


INLINE = """<!DOCTYPE html><html><body>{frame}
<script>
document.querySelector("iframe").addEventListener("load", function () {{
  var inner = this.contentDocument;
  inner.getElementById("next").click();
  inner.getElementById("next").click();
  document.body.setAttribute("data-inner-step", inner.body.getAttribute("data-step"));
  document.body.setAttribute("data-inner-title", inner.getElementById("step-title").textContent);
}});
</script></body></html>"""


@requires_browser
def test_browser_the_inline_page_steps_through_inside_its_iframe(tmp_path):
    evil = '</iframe><b id="evil">x</b>'
    net = XorNet(names=(evil, "hidden.b", "output.V", "output.c"))
    frame = backprop_steps(net.loss, params=net.params)._repr_html_()
    # allow-same-origin only here, so that this test's own script may look inside
    frame = frame.replace('sandbox="allow-scripts"', 'sandbox="allow-scripts allow-same-origin"')
    outer = tmp_path / "notebook-like.html"
    outer.write_text(INLINE.format(frame=frame), encoding="utf-8")
    dom = dump_dom(outer.as_uri(), tmp_path / "profile")
    assert 'data-inner-step="2"' in dom  # the page's own script ran and took two steps
    title = re.search(r'data-inner-title="([^"]*)"', dom).group(1)
    assert title == f"Step 2 of 12: {engine_order(net.loss)[1]}"
    assert "evil" not in parse(dom).by_id  # nothing leaked into the notebook's document
