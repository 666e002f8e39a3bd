"""The step-through page: one self-contained HTML template (inline CSS and JS,
no network). ``steps.py`` fills in the title, the hint, the SVG and the steps' JSON; the
same template plays backward (backprop) or a forward-mode pass.

The graph keeps its natural size (its 10 pt labels are never shrunk) in a
box that scrolls to the current node; the controls and the step's panel sit
beside it on a wide window, below it on a narrow one.

The page reads ``#step=N`` or ``#step=last`` from the URL on load and on
hash changes, and updates the hash as you step; every piece of text is put in
with ``textContent``, never parsed as HTML.
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>__TITLE__</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .4em; }
/* graph on the left at its natural size (10 pt labels stay readable: never shrunk),
   scrolling inside its box; controls and the step panel on the right, in view */
/* the side column is wide enough for a 4-column matrix at 6 significant digits
   (the article's (4, 4) gradients) on a 1366 px laptop screen */
#layout { display: grid; grid-template-columns: minmax(0, 1fr) minmax(20em, 38em);
          gap: 1em; align-items: start; }
@media (max-width: 60em) { #layout { grid-template-columns: minmax(0, 1fr); } }
#graph { overflow: auto; max-height: calc(100vh - 8em); border: 1px solid #ddd;
         border-radius: 6px; padding: 4px; }
#graph svg { display: block; }
#side { position: sticky; top: .5em; }
#controls { margin: 0 0 .8em; display: flex; gap: .5em; align-items: center; flex-wrap: wrap; }
#controls button { font-size: 1em; padding: .25em .8em; }
#slider { flex: 1 1 10em; }
#panel { border-left: 4px solid #d62728; padding: .3em 1em; background: #fafafa; }
#panel h2 { font-size: 1.1em; margin: .2em 0; }
/* values wrap rather than hide behind a scrollbar when the column is narrower */
#panel pre { background: #fff; border: 1px solid #eee; padding: .4em; margin: .2em 0 .6em;
             line-height: 1.35; white-space: pre-wrap; overflow-wrap: anywhere; }
.hint { color: #666; font-size: .9em; }
.node.done path, .node.done polygon, .node.done ellipse { fill: #e3f1e6; }
.node.received path, .node.received polygon, .node.received ellipse {
  fill: #fff1d6; stroke: #e08a00; stroke-width: 3px; }
.node.target path, .node.target polygon, .node.target ellipse {
  fill: #ffe4e4; stroke: #d62728; stroke-width: 2px; }
.node.current path, .node.current polygon, .node.current ellipse {
  fill: #ffc9c9; stroke: #d62728; stroke-width: 4px; }
.edge.sent path { stroke: #d62728; stroke-width: 3px; }
.edge.sent polygon { fill: #d62728; stroke: #d62728; }
</style>
</head>
<body>
<h1 id="title"></h1>
<p class="hint">__HINT__</p>
<div id="layout">
<div id="graph">__SVG__</div>
<div id="side">
<div id="controls">
  <button id="first" type="button" title="first (Home)">First</button>
  <button id="prev" type="button" title="previous (&larr;)">&#x25C0; Prev</button>
  <button id="next" type="button" title="next (&rarr;)">Next &#x25B6;</button>
  <button id="last" type="button" title="last (End)">Last</button>
  <input id="slider" type="range" min="0" max="0" value="0" aria-label="step">
  <span id="counter"></span>
</div>
<div id="panel">
  <h2 id="step-title"></h2>
  <div id="step-body"></div>
</div>
</div>
</div>
<script type="application/json" id="gs-data">__DATA__</script>
<script>
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("gs-data").textContent);
  var steps = data.steps, n = steps.length, cur = -1;
  document.title = data.title;
  document.getElementById("title").textContent = data.title;
  var slider = document.getElementById("slider");
  slider.max = String(n);

  function el(id) { return id ? document.getElementById(id) : null; }
  function mark(ids, cls) {
    ids.forEach(function (id) { var e = el(id); if (e) { e.classList.add(cls); } });
  }
  function reveal(node) {  // scroll the graph box (only) so the current node is in view
    var box = document.getElementById("graph");
    if (!node || !node.getBoundingClientRect) { return; }
    var r = node.getBoundingClientRect(), b = box.getBoundingClientRect();
    if (r.left < b.left || r.right > b.right) {
      box.scrollLeft += (r.left + r.right) / 2 - (b.left + b.right) / 2;
    }
    if (r.top < b.top || r.bottom > b.bottom) {
      box.scrollTop += (r.top + r.bottom) / 2 - (b.top + b.bottom) / 2;
    }
  }
  function add(parent, tag, text) {
    var e = document.createElement(tag);
    e.textContent = text;
    parent.appendChild(e);
    return e;
  }
  function show(k) {
    k = Math.max(0, Math.min(n, k));
    cur = k;
    ["done", "current", "received", "target", "sent"].forEach(function (cls) {
      Array.prototype.slice.call(document.querySelectorAll("." + cls)).forEach(function (e) {
        e.classList.remove(cls);
      });
    });
    for (var j = 0; j < k - 1; j++) {
      mark(steps[j].nodes, "done");
      mark(steps[j].received_ids, "done");
    }
    var title = document.getElementById("step-title");
    var body = document.getElementById("step-body");
    body.textContent = "";
    if (k === 0) {
      title.textContent = data.before;
      add(body, "p", data.intro);
    } else {
      var s = steps[k - 1];
      mark(s.nodes, "current");
      mark(s.received_ids, "received");
      mark(s.targets, "target");
      mark(s.edges, "sent");
      reveal(el(s.nodes[0]));
      title.textContent = "Step " + k + " of " + n + ": " + s.title;
      add(body, "p", s.received_text);
      add(body, "pre", s.received);
      if (s.rule) { add(body, "p", "Rule: " + s.rule); }
      s.sent.forEach(function (item) {
        add(body, "p", item.to);
        add(body, "pre", item.value);
      });
      if (s.note) { add(body, "p", s.note); }
    }
    slider.value = String(k);
    document.getElementById("counter").textContent = k + " / " + n;
    document.body.setAttribute("data-step", String(k));
    try { history.replaceState(null, "", "#step=" + k); } catch (e) { /* file: URLs */ }
  }
  function fromHash() {
    var m = /step=(last|\\d+)/.exec(location.hash);
    if (!m) { return false; }
    show(m[1] === "last" ? n : parseInt(m[1], 10));
    return true;
  }
  document.getElementById("first").addEventListener("click", function () { show(0); });
  document.getElementById("prev").addEventListener("click", function () { show(cur - 1); });
  document.getElementById("next").addEventListener("click", function () { show(cur + 1); });
  document.getElementById("last").addEventListener("click", function () { show(n); });
  slider.addEventListener("input", function () { show(parseInt(slider.value, 10)); });
  document.addEventListener("keydown", function (ev) {
    if (ev.target === slider) { return; }
    var keys = { ArrowRight: cur + 1, ArrowDown: cur + 1, ArrowLeft: cur - 1, ArrowUp: cur - 1,
                 Home: 0, End: n };
    if (ev.key in keys) { ev.preventDefault(); show(keys[ev.key]); }
  });
  window.addEventListener("hashchange", fromHash);
  if (!fromHash()) { show(0); }
  window.gsShow = show;
})();
</script>
</body>
</html>
"""
