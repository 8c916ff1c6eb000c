// Suggestions as you type: fills the search box's <datalist> from /api/suggest. The page works without it.
(function () {
  "use strict";
  var box = document.getElementById("q");
  var list = document.getElementById("suggestions");
  if (!box || !list || !window.fetch) { return; }
  var url = box.getAttribute("data-suggest");
  var timer = null;
  var last = "";
  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = box.value;
      if (q === last || !q.trim() || q.length > 200) { return; }
      last = q;
      fetch(url + "?q=" + encodeURIComponent(q), { headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
        .then(function (data) {
          if (box.value !== q) { return; }
          while (list.firstChild) { list.removeChild(list.firstChild); }
          (data.suggestions || []).forEach(function (s) {
            var option = document.createElement("option");
            option.value = s;  // text, never HTML
            list.appendChild(option);
          });
        })
        .catch(function () { /* no suggestions: the box still searches */ });
    }, 120);
  });
})();
