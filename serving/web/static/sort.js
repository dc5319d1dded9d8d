// Sorts a table in the page by a clicked header, for tables marked data-sortable.
// The worklist sorts on the server (links); this only helps small tables without a reload.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("table[data-sortable] th").forEach(function (header, column) {
    header.addEventListener("click", function () {
      var body = header.closest("table").tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var ascending = header.dataset.order !== "asc";
      header.dataset.order = ascending ? "asc" : "desc";
      rows.sort(function (a, b) {
        var x = a.cells[column].textContent.trim(), y = b.cells[column].textContent.trim();
        var order = x.localeCompare(y, document.documentElement.lang, { numeric: true });
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
