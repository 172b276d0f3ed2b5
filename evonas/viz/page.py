"""``pareto.html``'s static part: the page template (its styles) and the script behind hover and click.

``viz.html.render_html`` fills ``PAGE`` (a ``str.format`` template: title, width, height, svg, legend,
head, rows, data, script) with the panels, the table and the records as JSON, and ``SCRIPT``. The
script reads the records from ``<script id="data">``: hovering a point or a table row shows its
record, clicking a front member (or a member of the front after training: ``data-k="t"``) shows and
copies its ``pick`` command. Plain text, no file access.
"""
from __future__ import annotations

__all__ = ["PAGE", "SCRIPT"]

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 13px system-ui, sans-serif; margin: 16px; color: #222; }}
h1 {{ font-size: 16px; margin: 0 0 8px; }}
svg {{ background: #fff; }}
.frame {{ fill: none; stroke: #888; }} .grid {{ stroke: #eee; }}
.tick {{ font-size: 10px; fill: #555; }} .label {{ font-size: 11px; text-anchor: middle; }}
.title {{ font-size: 12px; text-anchor: middle; font-weight: 600; }}
.note {{ font-size: 10px; fill: #a33; }}
.idlabel {{ font-size: 10px; fill: #c00; font-weight: 700; pointer-events: none; }}
circle {{ cursor: pointer; }}
circle.cand {{ fill: #aaa; }} circle.front {{ fill: #d62728; stroke: #000; stroke-width: .6; }}
circle.trained {{ fill: #b0c4de; stroke: #000; stroke-width: .6; }}
circle.tfront {{ fill: #1f77b4; stroke: #000; stroke-width: .8; }}
.idlabel.trained {{ fill: #555; }} .idlabel.tfront {{ fill: #1f77b4; }}
circle.hl {{ stroke: #ff0; stroke-width: 3; }}
.truth {{ fill: none; stroke: #000; stroke-width: 1.4; }}
.tline {{ fill: none; stroke: #1f77b4; stroke-width: 2.5; }}
.bar {{ stroke: #777; stroke-width: 1; }}
.key {{ display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin: 0 4px 0 12px; }}
.key.cand {{ background: #aaa; }} .key.front {{ background: #d62728; }} .key.trained {{ background: #b0c4de; }}
.key.tfront {{ background: #1f77b4; }}
.key.truth {{ background: #000; height: 2px; border-radius: 0; }}
#tip {{ position: fixed; display: none; background: #fffff0; border: 1px solid #999; padding: 6px 8px;
        font-size: 12px; pointer-events: none; max-width: 520px; box-shadow: 2px 2px 6px #0003; }}
#tip .arch, td.arch {{ font-family: ui-monospace, monospace; font-size: 11px; }}
#cmd {{ margin: 8px 0; padding: 6px; background: #f4f4f4; font-family: ui-monospace, monospace; min-height: 1.4em; }}
table {{ border-collapse: collapse; margin-top: 8px; }} td, th {{ border: 1px solid #ddd; padding: 2px 6px; }}
tr:hover, tr.hl {{ background: #ffe; cursor: pointer; }}
</style></head><body>
<h1>{title}</h1>
<div>{legend}</div>
<svg id="plot" width="{width}" height="{height}" viewBox="0 0 {width} {height}">{svg}</svg>
<div id="cmd">click a front member (red) or a member of the front after training (blue) to get its pick command</div>
<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>
<div id="tip"></div>
<script type="application/json" id="data">{data}</script>
<script>{script}</script>
</body></html>
"""

SCRIPT = r"""
(function () {
  var D = JSON.parse(document.getElementById('data').textContent);
  var tip = document.getElementById('tip'), cmd = document.getElementById('cmd');
  function f(v) { return v === null || v === undefined ? '-' : Number(v).toPrecision(4); }
  function esc(s) { return String(s).replace(/[&<>]/g, function (c) { return {'&': '&amp;', '<': '&lt;', '>': '&gt;'}[c]; }); }
  function text(r, kind) {
    var h = r.front ? '<b>front id ' + r.id + '</b>'
      : r.id !== null ? '<b>shortlist id ' + r.id + '</b> (off the search front)' : '<b>not on the front</b>';
    h += ' &middot; NB201 index ' + esc(r.index) + '<br><span class="arch">' + esc(r.arch) + '</span><br>';
    for (var k in r.obj) h += esc(k) + ' = ' + f(r.obj[k]) + '<br>';
    for (var a in r.acc) h += esc(a) + ' = ' + f(r.acc[a]) + ' % (table)<br>';
    if (r.band !== undefined) h += 'band ' + esc(r.band) + '<br>';
    if (r.on_front !== undefined) h += 'on_front: ' + (r.on_front ? 'yes' : 'no') + '<br>';
    if (r.trained) h += 'trained here: test acc ' + f(r.trained[0]) + ' % after ' + esc(r.trained[1]) + ' epoch(s)'
      + (r.tfront ? ', <b>on the front after training</b>' : '') + '<br>';
    if (r.tci) h += '95 % interval ' + f(r.tci[0]) + ' .. ' + f(r.tci[1]) + ' % on ' + esc(r.tci[2]) + ' test images<br>';
    if (r.gap !== undefined) h += 'gap to the true front: ' + f(r.gap) + ' points<br>';
    if (r.front || (kind === 't' && r.tfront)) h += '<i>click: ' + esc(command(r, kind)) + '</i>';
    return h;
  }
  function highlight(i, on) {
    document.querySelectorAll('[data-r="' + i + '"]').forEach(function (e) { e.classList.toggle('hl', on); });
  }
  function command(r, kind) {
    if (kind === 't' && r.tfront) return 'python -m evonas pick ' + D.run + ' --trained --id ' + r.id;
    if (r.front) return 'python -m evonas pick ' + D.run + ' --id ' + r.id;
    return "python -m evonas export " + D.run + " --arch '" + r.arch + "' --out model.pt";
  }
  function choose(i, kind) {
    var c = command(D.records[i], kind);
    cmd.textContent = c;
    if (navigator.clipboard) navigator.clipboard.writeText(c).then(function () {
      cmd.textContent = c + '   (copied)'; }, function () {});
  }
  document.querySelectorAll('[data-r]').forEach(function (e) {
    var i = +e.getAttribute('data-r');
    e.addEventListener('mouseenter', function () { tip.innerHTML = text(D.records[i], e.getAttribute('data-k')); tip.style.display = 'block'; highlight(i, true); });
    e.addEventListener('mousemove', function (ev) { tip.style.left = (ev.clientX + 14) + 'px'; tip.style.top = (ev.clientY + 14) + 'px'; });
    e.addEventListener('mouseleave', function () { tip.style.display = 'none'; highlight(i, false); });
    e.addEventListener('click', function () { choose(i, e.getAttribute('data-k')); });
  });
})();
"""
