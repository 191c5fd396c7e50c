"""The review page's HTML: one document at a time, decision form, progress and reject reasons.

Templates are Jinja strings (autoescaped by Flask) so the package needs no data files.
Keyboard: a approve, r reject (asks for the reason first), f flag, j / → next, k / ← previous.
"""

LAYOUT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{% block title %}funnel review{% endblock %}</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #f6f6f8; }
  header { background: #20232a; color: #fff; padding: 10px 20px; display: flex; gap: 24px;
           align-items: center; }
  header a { color: #9cdcfe; }
  main { display: grid; grid-template-columns: minmax(0, 1fr) 320px; gap: 20px; padding: 20px; }
  section, aside > div { background: #fff; border: 1px solid #ddd; border-radius: 6px;
                         padding: 14px 18px; margin-bottom: 16px; }
  pre.text { white-space: pre-wrap; max-height: 420px; overflow: auto; background: #fafafa;
             border: 1px solid #eee; padding: 10px; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 3px 8px 3px 0; border-bottom: 1px solid #f0f0f0;
           vertical-align: top; }
  progress { width: 220px; }
  .decision-approve { color: #1a7f37; } .decision-reject { color: #cf222e; }
  .decision-flag { color: #9a6700; }
  .error { background: #ffebe9; border: 1px solid #cf222e; padding: 8px 12px; }
  .done { background: #dafbe1; border: 1px solid #1a7f37; padding: 8px 12px; }
  kbd { border: 1px solid #bbb; border-radius: 3px; padding: 0 4px; background: #f3f3f3; }
  button { font-size: 14px; padding: 6px 14px; margin-right: 6px; cursor: pointer; }
  input[type=text], textarea, select { font: inherit; width: 100%; box-sizing: border-box; }
</style>
</head>
<body>
<header>
  <strong>funnel review</strong>
  <span id="progress-text">{{ progress.decided }} of {{ progress.queued }} decided</span>
  <progress id="progress" max="{{ progress.queued }}" value="{{ progress.decided }}"></progress>
  <span>approval rate {{ "%.2f"|format(progress.approval_rate) }}
        (gate ≥ {{ min_rate }})</span>
  <span>reviewer <strong id="reviewer">{{ reviewer }}</strong></span>
  <a href="{{ url_for('report') }}">report</a>
  <a href="{{ url_for('dropped') }}" id="dropped-tab">dropped</a>
  <a href="{{ url_for('plans') }}" id="plans-tab">plans</a>
</header>
{% block body %}{% endblock %}
</body>
</html>
"""

DOCUMENT = """{% extends "layout.html" %}
{% block title %}{{ position + 1 }}/{{ progress.queued }} · funnel review{% endblock %}
{% block body %}
<main>
<div>
  {% if error %}<p class="error" id="error">{{ error }}</p>{% endif %}
  {% if progress.queued and not progress.pending %}
    <p class="done" id="complete">Every queued document is decided.</p>
  {% endif %}
  <section>
    <h2>Document {{ position + 1 }} of {{ progress.queued }}
        <small>({{ item.reason }})</small></h2>
    <table id="scores">
      <tr><th>doc id</th><td id="doc-id">{{ item.doc_id }}</td></tr>
      <tr><th>domain (predicted)</th>
          <td>{{ doc.domain }} (p = {{ "%.3f"|format(doc.domain_prob) }});
              source domain {{ doc.source_domain }}</td></tr>
      <tr><th>quality score</th>
          <td>{{ "%.3f"|format(doc.quality_score) }} · bucket {{ item.quality_bucket }}
              · rank in domain {{ "%.3f"|format(doc.domain_quality_rank) }}</td></tr>
      <tr><th>tokens · weight</th><td>{{ doc.tokens }} · {{ "%.3f"|format(doc.weight) }}</td></tr>
      <tr><th>source</th>
          <td>{{ doc.source }} · {{ doc.license }} · batch {{ doc.batch_id }}</td></tr>
      <tr><th>from</th><td>{{ doc.source_uri }} record {{ doc.source_record }}</td></tr>
    </table>
    <pre class="text" id="text">{{ doc.text }}</pre>
  </section>
  <section>
    <h3>Decision</h3>
    {% if latest %}
      <p id="latest">Latest:
      <span class="decision-{{ latest.decision }}">{{ latest.decision }}</span>
      by {{ latest.reviewer }} at {{ latest.decided_at }}{% if latest.reason %}
      — {{ latest.reason }}{% endif %}{% if latest.note %} · note: {{ latest.note }}{% endif %}</p>
    {% endif %}
    <form method="post" id="decide" action="{{ url_for('decide', position=position) }}">
      <input type="hidden" name="csrf" value="{{ csrf }}">
      <input type="hidden" name="doc_id" value="{{ item.doc_id }}">
      <input type="hidden" name="queue_version" value="{{ queue_version }}">
      <label>Reason (needed to reject)
        <input type="text" name="reason" id="reason" list="reasons" autocomplete="off">
      </label>
      <datalist id="reasons">
        {% for reason in known_reasons %}<option value="{{ reason }}">{% endfor %}
      </datalist>
      <label>Note <textarea name="note" id="note" rows="2"></textarea></label>
      <p>
        <button type="submit" name="decision" value="approve" id="approve">
          Approve <kbd>a</kbd></button>
        <button type="submit" name="decision" value="reject" id="reject">
          Reject <kbd>r</kbd></button>
        <button type="submit" name="decision" value="flag" id="flag">
          Flag <kbd>f</kbd></button>
      </p>
    </form>
    <p>
      {% if position > 0 %}
        <a id="prev" href="{{ url_for('document', position=position - 1) }}">
          ← previous <kbd>k</kbd></a>
      {% endif %}
      {% if position + 1 < progress.queued %}
        <a id="next" href="{{ url_for('document', position=position + 1) }}">
          next → <kbd>j</kbd></a>
      {% endif %}
    </p>
    {% if history|length > 1 %}
      <details><summary>{{ history|length }} decisions on this document</summary>
      <table>{% for row in history %}<tr><td>{{ row.decided_at }}</td><td>{{ row.reviewer }}</td>
        <td class="decision-{{ row.decision }}">{{ row.decision }}</td>
        <td>{{ row.reason or "" }}</td>
        <td>{{ row.note or "" }}</td></tr>{% endfor %}</table></details>
    {% endif %}
  </section>
  <section>
    <h3>Provenance</h3>
    {% if provenance %}
      <p>{{ provenance.source_uri }} · record {{ provenance.source_record }}
         · source id {{ provenance.source_id or "-" }}</p>
      <table id="trace"><tr><th>stage</th><th>outcome</th><th>table</th><th>rule</th></tr>
      {% for step in provenance.stages %}
        <tr><td>{{ step.stage }}</td><td>{{ step.outcome }}</td>
            <td>{{ step.table }}{% if step.version is not none %}@{{ step.version }}{% endif %}</td>
            <td>{{ step.rule or "" }}</td></tr>
      {% endfor %}</table>
    {% else %}
      <p id="trace">{{ provenance_error }}</p>
    {% endif %}
  </section>
</div>
<aside>
  <div>
    <h3>Reject reasons</h3>
    {% if progress.reject_reasons %}
      <table id="reject-reasons">{% for reason, count in progress.reject_reasons.items() %}
        <tr><td>{{ reason }}</td><td>{{ count }}</td></tr>{% endfor %}</table>
    {% else %}<p>none yet</p>{% endif %}
    <p>{{ progress.approved }} approved · {{ progress.rejected }} rejected ·
       {{ progress.flagged }} flagged · {{ progress.pending }} pending</p>
  </div>
  <div>
    <h3>Block for the next clean run</h3>
    <form method="post" id="block" action="{{ url_for('block') }}">
      <input type="hidden" name="csrf" value="{{ csrf }}">
      <input type="hidden" name="position" value="{{ position }}">
      <select name="kind" id="block-kind">
        <option value="term">term</option><option value="url">URL (prefix)</option>
        <option value="source">source</option>
      </select>
      <input type="text" name="value" id="block-value" placeholder="what to block">
      <input type="text" name="note" placeholder="why">
      <p><button type="submit" id="block-add">Block</button></p>
    </form>
    {% if blocked %}<table id="blocklist">{% for row in blocked %}
      <tr><td>{{ row.kind }}</td><td>{{ row.value }}</td><td>{{ row.added_by }}</td></tr>
    {% endfor %}</table>{% endif %}
  </div>
  <div><p><kbd>a</kbd> approve · <kbd>r</kbd> reject · <kbd>f</kbd> flag ·
          <kbd>j</kbd> next · <kbd>k</kbd> previous</p></div>
</aside>
</main>
<script>
document.addEventListener("keydown", function (event) {
  var target = event.target;
  if (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT") {
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) { return; }
  var click = function (id) { var el = document.getElementById(id); if (el) { el.click(); } };
  if (event.key === "a") { event.preventDefault(); click("approve"); }
  else if (event.key === "f") { event.preventDefault(); click("flag"); }
  else if (event.key === "r") {
    event.preventDefault();
    var reason = document.getElementById("reason");
    if (reason.value.trim()) { click("reject"); } else { reason.focus(); }
  }
  else if (event.key === "j" || event.key === "ArrowRight") { click("next"); }
  else if (event.key === "k" || event.key === "ArrowLeft") { click("prev"); }
});
document.getElementById("reason").addEventListener("keydown", function (event) {
  if (event.key === "Enter" && this.value.trim()) {
    event.preventDefault(); document.getElementById("reject").click();
  }
});
</script>
{% endblock %}
"""

REPORT = """{% extends "layout.html" %}
{% block title %}report · funnel review{% endblock %}
{% block body %}
<main><div>
<section>
  <h2>Review of review/queue@{{ progress.queue_version }}</h2>
  <p id="gate">{% if verdict.passed %}The release gate passes.{% else %}The release gate
     blocks: {{ verdict.problems|join("; ") }}{% endif %}</p>
  <table>
    <tr><th>queued</th><td>{{ progress.queued }}</td></tr>
    <tr><th>approved</th><td>{{ progress.approved }}</td></tr>
    <tr><th>rejected</th><td>{{ progress.rejected }}</td></tr>
    <tr><th>flagged</th><td>{{ progress.flagged }}</td></tr>
    <tr><th>pending</th><td>{{ progress.pending }}</td></tr>
  </table>
  <h3>Reject reasons</h3>
  <table id="reject-reasons">{% for reason, count in progress.reject_reasons.items() %}
    <tr><td>{{ reason }}</td><td>{{ count }}</td></tr>{% endfor %}</table>
  <p><a href="{{ url_for('index') }}">back to the queue</a></p>
</section>
</div></main>
{% endblock %}
"""

MESSAGE = """{% extends "layout.html" %}
{% block body %}<main><div><section><p class="error" id="error">{{ message }}</p>
</section></div></main>{% endblock %}
"""

PLANS = """{% extends "layout.html" %}
{% block title %}plans · funnel review{% endblock %}
{% block body %}
<main><div>
{% if error %}<p class="error" id="error">{{ error }}</p>{% endif %}
<section>
  <h2>Planned recipe changes</h2>
  <p>Requests turned into recipe patches by <code>funnel plan</code>. An approved plan runs with
     <code>funnel run --plan PLAN_ID</code>; every table version it writes names the plan.</p>
  {% if not plans %}<p id="no-plans">No plans yet.</p>{% endif %}
</section>
{% for item in plans %}{% set plan = item.plan %}
<section class="plan" id="plan-{{ plan.plan_id }}">
  <h3>{{ plan.request }}</h3>
  <p><code>{{ plan.plan_id }}</code> ·
     <strong class="plan-status">{{ plan.status }}</strong> by {{ plan.by }}
     at {{ plan.at.strftime("%Y-%m-%d %H:%M") }}</p>
  {% if plan.patches %}<table class="patches">
    <tr><th>setting</th><th>now</th><th>planned</th><th>from</th><th>why</th></tr>
    {% for patch in plan.patches %}<tr><td><code>{{ patch.path }}</code></td>
      <td>{{ patch.old }}</td><td>{{ patch.new }}</td><td>“{{ patch.source }}”</td>
      <td>{{ patch.reason }}</td></tr>{% endfor %}
  </table>{% endif %}
  {% if plan.reason %}<p>{{ plan.reason }}</p>{% endif %}
  {% if item.dry %}<p class="dry-run">
    {% if item.dry.available %}Dry run on {{ item.dry.whatif.documents }} documents:
      {{ item.dry.whatif.newly_kept }} newly kept, {{ item.dry.whatif.newly_dropped }} newly
      dropped.
    {% else %}Dry run not available: {{ item.dry.reason }}{% endif %}
    {% if item.dry.needs_rerun %}Re-run to know: {{ item.dry.needs_rerun|join(", ") }}.
    {% endif %}</p>{% endif %}
  {% if plan.status == "proposed" %}
  <form method="post" action="{{ url_for('decide_plan', plan_id=plan.plan_id) }}">
    <input type="hidden" name="csrf" value="{{ csrf }}">
    <button type="submit" name="action" value="approve" class="approve-plan">Approve</button>
    <button type="submit" name="action" value="reject" class="reject-plan">Reject</button>
  </form>{% endif %}
</section>
{% endfor %}
</div></main>
{% endblock %}
"""

DROPPED = """{% extends "layout.html" %}
{% block title %}dropped · funnel review{% endblock %}
{% block body %}
<main><div>
<section>
  <h2>What the stages dropped, by rule</h2>
  <p>A few documents per rule with the signal's value and the threshold it crossed
     (<code>funnel rejections</code> and <code>funnel trace DOC</code> give the rest).</p>
  {% if not rules %}<p id="nothing-dropped">No stage has dropped a document yet.</p>{% endif %}
</section>
{% for group in rules %}
<section class="rule" id="rule-{{ group.stage }}-{{ group.rule }}">
  <h3>{{ group.stage }} · <code>{{ group.rule }}</code> · {{ group.count }} dropped</h3>
  <table>
    <tr><th>document</th><th>source</th><th>value</th><th>threshold</th><th>detail</th></tr>
    {% for row in group.examples %}<tr>
      <td><code>{{ row.doc_id }}</code></td><td>{{ row.source or "" }}</td>
      <td class="value">{{ row.value if row.value is not none else "" }}</td>
      <td class="threshold">{{ row.threshold if row.threshold is not none else "" }}</td>
      <td>{{ row.detail or "" }}</td></tr>
    <tr><td colspan="5"><pre class="text">{{ row.excerpt }}</pre></td></tr>{% endfor %}
  </table>
</section>
{% endfor %}
</div></main>
{% endblock %}
"""
