// The Gradio UI's own script: run as `js_on_load` of gr.HTML components (web/ui.py appends one call below).
// `element`, `trigger` and `watch` come from Gradio. Citation chips are links (see web/render.py):
//   #cite:ID:START:END:LABEL  -> the passage viewer asks the server for the passage inside its speech;
//   #cmp-LABEL                -> scroll to that passage, highlighted in its speech column (comparison).

function speechesScrollTo(mark) {
  // Centre the mark inside its scrolling box, then bring the box into view without jumping the page around.
  var box = mark.closest('.speech-text');
  if (box) {
    var top = mark.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
    box.scrollTop = Math.max(0, top - box.clientHeight / 3);
  }
  mark.scrollIntoView({ block: 'nearest' });
}

function speechesFlash(mark) {
  mark.classList.remove('flash');
  void mark.offsetWidth; // restart the animation
  mark.classList.add('flash');
}

function speechesWatchMarks(element, watch) {
  // After each new value (a passage opened, a comparison finished), show the first highlighted passage.
  watch('value', function () {
    var mark = element.querySelector('mark.cited');
    if (mark) speechesScrollTo(mark);
  });
}

function speechesViewer(element, trigger, watch) {
  speechesWatchMarks(element, watch);
  if (window.__speechesChipsHooked) return;
  window.__speechesChipsHooked = true;
  function open(chip) {
    var href = chip.getAttribute('href') || '';
    if (href.indexOf('#cite:') === 0) {
      trigger('click', { cite: href });
    } else if (href.indexOf('#cmp-') === 0) {
      var mark = document.getElementById(decodeURIComponent(href.slice(1)));
      if (mark) { speechesScrollTo(mark); speechesFlash(mark); }
    } else {
      return false;
    }
    return true;
  }
  document.addEventListener('click', function (event) {
    var chip = event.target.closest && event.target.closest('a.cite-chip');
    if (chip && open(chip)) event.preventDefault();
  });
  document.addEventListener('keydown', function (event) {
    if (event.key !== ' ') return; // Enter already clicks a link
    var chip = event.target.closest && event.target.closest('a.cite-chip');
    if (chip && open(chip)) event.preventDefault();
  });
}
