// The report's behaviour: sortable tables, filters, and a problem's samples on click.
// Every string from the run store goes into the page as text (textContent), never as HTML;
// the one HTML inserted is a program highlighted on the server (assay.report.highlight), which escaped every token.
(function () {
  "use strict";
  var PACKED = "application/x-assay-json+gzip";
  var loaded = {};
  // A data block's value, as a promise: JSON as it is, or gzipped JSON in base64, unpacked by the browser.
  function data(id) {
    if (!(id in loaded)) loaded[id] = unpack(document.getElementById(id));
    return loaded[id];
  }
  function unpack(node) {
    if (!node) return Promise.reject(new Error("no data block"));
    if (node.type !== PACKED) return Promise.resolve(JSON.parse(node.textContent));
    if (typeof DecompressionStream === "undefined") return Promise.reject(new Error("this browser cannot unpack the report's data (it needs DecompressionStream: Chrome 80, Firefox 113, Safari 16.4 or later)"));
    var text = atob(node.textContent.trim());
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse);
  }
  // Put a detail row under ``row`` once its data is there; "assay:opened" tells whoever waits (tests, the bench).
  function openDetail(row, build) {
    if (row.classList.contains("loading")) return;
    row.classList.add("loading");
    var tr = el("tr", "detail");
    var td = el("td");
    td.colSpan = row.cells.length;
    tr.appendChild(td);
    build().then(function (content) {
      td.appendChild(content);
    }, function (error) {
      td.appendChild(el("p", "note", "cannot show this problem: " + error.message));
    }).then(function () {
      row.classList.remove("loading");
      row.after(tr);
      row.classList.add("open");
      row.dispatchEvent(new CustomEvent("assay:opened", { bubbles: true }));
    });
  }
  function closeDetail(row) {
    var next = row.nextElementSibling;
    if (next && next.classList.contains("detail")) {
      next.remove();
      row.classList.remove("open");
      return true;
    }
    return false;
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) if (arguments[i]) parent.appendChild(arguments[i]);
    return parent;
  }
  function badge(status) { return el("span", "badge st-" + String(status).replace(/[^a-z_]/g, ""), status); }
  function ms(ns) { return (ns / 1e6).toFixed(2); }
  function mib(b) { return (b / 1048576).toFixed(1); }

  // ---------------------------------------------------------------- sorting
  function sortBy(table, th) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var dir = th.getAttribute("data-dir") === "asc" ? "desc" : "asc";
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("data-dir"); });
    th.setAttribute("data-dir", dir);
    var body = table.tBodies[0];
    Array.prototype.slice.call(body.querySelectorAll("tr.detail")).forEach(function (d) { d.remove(); });
    Array.prototype.forEach.call(body.querySelectorAll("tr.open"), function (r) { r.classList.remove("open"); });
    var rows = Array.prototype.slice.call(body.rows);
    function key(row) {
      var cell = row.cells[index];
      var v = cell.getAttribute("data-v");
      if (v === null || v === "") return dir === "asc" ? Infinity : -Infinity;
      var n = Number(v);
      return isNaN(n) ? v : n;
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var c = x < y ? -1 : x > y ? 1 : 0;
      return dir === "asc" ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll("table.sortable th[data-sort]").forEach(function (th) {
    th.addEventListener("click", function () { sortBy(th.closest("table"), th); });
  });

  // ---------------------------------------------------------------- filters
  function applyProblemFilters(box) {
    var bar = box.querySelector(".filters");
    var text = bar.querySelector(".f-text").value.trim().toLowerCase();
    var status = bar.querySelector(".f-status").value;
    var kind = bar.querySelector(".f-kind").value;
    var outcome = bar.querySelector(".f-outcome").value;
    var shown = 0, total = 0;
    box.querySelectorAll("tr.row").forEach(function (row) {
      total++;
      var ok = (!text || row.getAttribute("data-task").toLowerCase().indexOf(text) >= 0) &&
        (!status || row.getAttribute("data-statuses").split(" ").indexOf(status) >= 0) &&
        (!kind || row.getAttribute("data-kinds").split("|").indexOf(kind) >= 0) &&
        (!outcome || row.getAttribute("data-outcome") === outcome);
      row.hidden = !ok;
      var next = row.nextElementSibling;
      if (next && next.classList.contains("detail")) next.hidden = !ok;
      if (ok) shown++;
    });
    bar.querySelector(".count").textContent = shown + " of " + total + " problems";
  }
  document.querySelectorAll(".problems").forEach(function (box) {
    box.querySelectorAll(".filters input, .filters select").forEach(function (input) {
      input.addEventListener("input", function () { applyProblemFilters(box); });
      input.addEventListener("change", function () { applyProblemFilters(box); });
    });
    applyProblemFilters(box);
  });
  document.querySelectorAll(".f-differ").forEach(function (box) {
    var section = box.closest("section");
    function apply() {
      var shown = 0, total = 0;
      section.querySelectorAll("tr.cmp").forEach(function (row) {
        total++;
        row.hidden = box.checked && row.getAttribute("data-differ") !== "1";
        var next = row.nextElementSibling;
        if (next && next.classList.contains("detail")) next.hidden = row.hidden;
        if (!row.hidden) shown++;
      });
      section.querySelector(".filters .count").textContent = shown + " of " + total + " problems";
    }
    box.addEventListener("change", apply);
    apply();
  });

  // ---------------------------------------------------------------- a problem's samples
  function evidence(test) {
    var dl = el("dl", "evidence");
    function item(name, value, pre) {
      if (value === undefined || value === null || value === "") return;
      add(dl, el("dt", null, name));
      var dd = el("dd");
      add(dd, pre ? el("pre", "out", value) : el("span", "msg", value));
      dl.appendChild(dd);
    }
    var dt = el("dd");
    add(dt, el("span", null, test.name + " "), badge(test.status));
    add(dl, el("dt", null, "test"), dt);
    item("input", test.input, true);
    item("message", test.message);
    item("first difference", test.diff);
    item("exception", test.exc);
    item("traceback", test.tb, true);
    item("stdout", test.stdout, true);
    item("stderr", test.stderr, true);
    if (test.cpu !== undefined) item("CPU / peak memory", ms(test.cpu) + " ms / " + mib(test.rss || 0) + " MiB");
    return dl;
  }
  function testsTable(tests) {
    var table = el("table", "tests");
    var head = add(el("tr"), el("th", null, "test"), el("th", null, "status"), el("th", null, "CPU ms"), el("th", null, "peak MiB"));
    add(table, add(el("thead"), head));
    var body = el("tbody");
    tests.forEach(function (t) {
      var tr = el("tr");
      var st = el("td");
      st.appendChild(badge(t[1]));
      add(tr, el("td", null, t[0]), st, el("td", null, ms(t[2])), el("td", null, mib(t[3])));
      body.appendChild(tr);
    });
    return add(table, body);
  }
  function sampleCard(sample, payload, task, open) {
    var card = el("details", "sample");
    card.open = open;
    var summary = el("summary");
    add(summary, el("b", null, "sample " + sample.i + " "), badge(sample.st));
    if (sample.fk) add(summary, el("span", null, " " + sample.fk));
    if (sample.eff !== undefined && sample.eff !== null) add(summary, el("span", "na", " · eff " + Number(sample.eff).toFixed(3)));
    if (sample.sp) add(summary, el("span", "na", " · speedup " + Number(sample.sp).toFixed(2) + "×"));
    if (sample.ext) add(summary, el("span", "na", " · code: " + sample.ext));
    card.appendChild(summary);
    var body = el("div", "body");
    if (sample.spent) {
      var sp = sample.spent, parts = [];
      ["calls", "tokens", "sandbox_runs", "nodes", "seconds"].forEach(function (k) { if (sp[k] !== undefined && sp[k] !== null) parts.push(sp[k] + " " + k.replace("_", " ")); });
      add(body, el("div", "label", "what the strategy spent on this answer"), el("p", null, parts.join(", ") + (sp.stopped ? "; stopped: " + sp.stopped : "")));
    }
    if (sample.infra) add(body, el("div", "label", "infrastructure error (not the candidate's)"), el("pre", "out", sample.infra));
    if (sample.fail) add(body, el("div", "label", "first failing test"), evidence(sample.fail));
    if (sample.out) add(body, el("div", "label", "output (" + sample.out.name + ")"), sample.out.stdout ? el("pre", "out", sample.out.stdout) : null, sample.out.stderr ? el("pre", "out", sample.out.stderr) : null);
    if (sample.tests.length) add(body, el("div", "label", "tests (" + sample.tests.length + ")"), testsTable(sample.tests));
    if (sample.levels && sample.levels.length) {
      var lv = el("table", "tests");
      add(lv, add(el("thead"), add(el("tr"), el("th", null, "level"), el("th", null, "cost"), el("th", null, "reference"), el("th", null, "status"))));
      var lb = el("tbody");
      sample.levels.forEach(function (l) {
        add(lb, add(el("tr"), el("td", null, l[0]), el("td", null, l[1] === null ? "-" : Number(l[1]).toPrecision(4) + " " + (l[2] || "")), el("td", null, l[4] === null || l[4] === undefined ? "-" : Number(l[4]).toPrecision(4)), el("td", null, l[3])));
      });
      add(body, el("div", "label", "efficiency on stress inputs (" + (sample.meter || "") + ")"), add(lv, lb));
    }
    if (sample.code !== undefined) {
      var pre = el("pre", "hl code");
      if (sample.code === "" && !sample.pre) pre.textContent = "(no code)";
      else pre.innerHTML = (sample.pre ? payload.prefix[task] : "") + sample.code; // highlighted server-side: the program, escaped
      add(body, el("div", "label", "program"), pre);
    } else {
      add(body, el("div", "label", "program"), el("p", "note", "not stored (a run from before programs were kept)"));
    }
    (sample.calls || []).forEach(function (call, n) {
      var box = el("details", "call");
      add(box, el("summary", null, "model call " + (n + 1) + ": " + call.pt + " + " + call.ct + " tokens, " + call.s + " s" + (call.c ? ", cached" : "") + (call.f ? ", " + call.f : "")));
      (payload.prompts[call.p] || []).forEach(function (m) { add(box, el("div", "label", m[0]), el("pre", "out prompt", m[1])); });
      add(box, el("div", "label", "reply"), el("pre", "out reply", call.r));
      body.appendChild(box);
    });
    card.appendChild(body);
    return card;
  }
  function toggle(row) {
    if (closeDetail(row)) return;
    var task = row.getAttribute("data-task");
    openDetail(row, function () {
      return data(row.closest("table").getAttribute("data-samples")).then(function (payload) {
        var samples = payload.tasks[task] || [];
        var box = document.createDocumentFragment();
        var firstBad = samples.findIndex(function (s) { return !s.ok; });
        samples.forEach(function (s, i) { box.appendChild(sampleCard(s, payload, task, i === (firstBad < 0 ? 0 : firstBad))); });
        return box;
      });
    });
  }
  // ---------------------------------------------------------------- runs side by side on one problem
  function toggleCompare(row) {
    if (closeDetail(row)) return;
    var task = row.getAttribute("data-task");
    var runs = Number(row.closest("table").getAttribute("data-runs"));
    var ids = [];
    for (var i = 0; i < runs; i++) ids.push("samples-" + i);
    openDetail(row, function () {
      return Promise.all(ids.map(data)).then(function (payloads) {
        var grid = el("div", "side-by-side");
        grid.style.gridTemplateColumns = "repeat(" + runs + ", minmax(0, 1fr))";
        payloads.forEach(function (payload, i) {
          var column = el("div", "column");
          var box = document.getElementById("problems-" + i);
          column.appendChild(el("div", "label", box ? box.querySelector("h3").textContent : "run " + i));
          var samples = payload.tasks[task] || [];
          var pick = samples.find(function (s) { return s.ok; }) || samples[0];
          if (pick) column.appendChild(sampleCard(pick, payload, task, true));
          else column.appendChild(el("p", "note", "no sample for this problem"));
          grid.appendChild(column);
        });
        return grid;
      });
    });
  }
  document.querySelectorAll("table.compare-table").forEach(function (table) {
    table.addEventListener("click", function (event) {
      var row = event.target.closest("tr.cmp");
      if (row && !event.target.closest("tr.detail")) toggleCompare(row);
    });
    table.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.target.matches("tr.cmp")) toggleCompare(event.target);
    });
  });

  // ---------------------------------------------------------------- a search's tree, built when its problem opens
  function fmt(value) { return typeof value === "number" ? value.toFixed(3) : String(value); }
  function buildTree(nodes) {
    var ids = {}, children = {};
    nodes.forEach(function (n) { ids[n.id] = true; });
    nodes.forEach(function (n) {
      var parent = n.parent !== null && ids[n.parent] ? n.parent : "";
      (children[parent] = children[parent] || []).push(n);
    });
    function node(n, depth) {
      var box = el("details", "node");
      box.open = depth < 2;
      var summary = el("summary");
      add(summary, el("b", null, n.op), el("span", null, " " + n.kind), n.score !== null && n.score !== undefined ? el("span", null, " · score " + n.score.toFixed(3)) : null);
      if (n.passed !== null && n.passed !== undefined) add(summary, el("span", null, " "), badge(n.passed ? "pass" : "fail"));
      if (n.best) add(summary, el("span", null, " "), el("span", "badge best", "best"));
      add(summary, el("span", "na", " #" + n.id));
      box.appendChild(summary);
      if (n.code !== undefined) {
        var pre = el("pre", "hl code");
        pre.innerHTML = n.code; // highlighted server-side: the program, escaped
        var program = el("details", "program");
        program.open = !!n.best; // the best program shows; the others open on demand, so a tree reads at a glance
        add(program, el("summary", null, "program (" + pre.textContent.split("\n").length + " lines)"), pre);
        box.appendChild(program);
      } else if (n.content) {
        add(box, el("div", "label", n.kind), el("pre", "out", n.content));
      }
      if (n.value) add(box, el("div", "label", "value"), el("p", null, Object.keys(n.value).map(function (k) { return k + " " + fmt(n.value[k]); }).join(", ")));
      if (n.feedback) add(box, el("div", "label", "feedback"), el("pre", "out", n.feedback));
      if (n.prompt || n.reply) {
        var call = el("details", "call");
        add(call, el("summary", null, "prompt and reply"), el("div", "label", "prompt"), el("pre", "out", n.prompt || ""), el("div", "label", "reply"), el("pre", "out", n.reply || ""));
        box.appendChild(call);
      }
      var kids = children[n.id] || [];
      if (kids.length) {
        var inner = el("div", "children");
        kids.forEach(function (k) { inner.appendChild(node(k, depth + 1)); });
        box.appendChild(inner);
      }
      return box;
    }
    var all = document.createDocumentFragment();
    (children[""] || []).forEach(function (root) { all.appendChild(node(root, 0)); });
    return all;
  }
  document.querySelectorAll("details.tree[data-tree]").forEach(function (box) {
    box.addEventListener("toggle", function () {
      if (!box.open || box.hasAttribute("data-built")) return;
      box.setAttribute("data-built", "");
      data(box.getAttribute("data-tree")).then(function (payload) {
        box.appendChild(buildTree(payload[box.getAttribute("data-task")] || []));
      }, function (error) {
        box.appendChild(el("p", "note", "cannot show this tree: " + error.message));
      }).then(function () { box.dispatchEvent(new CustomEvent("assay:opened", { bubbles: true })); });
    });
  });

  document.querySelectorAll("table.problem-table").forEach(function (table) {
    table.addEventListener("click", function (event) {
      var row = event.target.closest("tr.row");
      if (row && !event.target.closest("tr.detail")) toggle(row);
    });
    table.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.target.matches("tr.row")) toggle(event.target);
    });
  });
})();
