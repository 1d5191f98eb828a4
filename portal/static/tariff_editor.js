// The tariff editor: every problem at its path as you type (the staff API's validation).
(function () {  // every problem at its path as you type (the staff API's validation)
  const text = document.getElementById("tariff-text"), out = document.getElementById("problems");
  let timer = null;
  text.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(async function () {
      const answer = await fetch("/api/v1/staff/tariffs/validate", {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify({document: text.value})});
      if (!answer.ok) { return; }
      const found = await answer.json();
      out.replaceChildren();
      if (!found.problems.length) {
        const ok = document.createElement("p"); ok.className = "muted"; ok.id = "problem-none"; ok.textContent = "No problems.";
        out.append(ok); return;
      }
      const list = document.createElement("ul"); list.id = "problem-list";
      for (const p of found.problems) {
        const item = document.createElement("li"); item.className = "error";
        const where = document.createElement("code"); where.textContent = p.path || "(document)";
        item.append(where, " " + p.code + ": " + p.message); list.append(item);
      }
      out.append(list);
    }, 300);
  });
})();
