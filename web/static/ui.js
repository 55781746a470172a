// The Gradio UI's own script: run as `js_on_load` of gr.HTML components (web/ui.py appends one call below).
// `element`, `trigger` and `watch` come from Gradio. Citation chips and outline entries are links (web/render.py):
//   #cite:ID:START:END:LABEL  -> the passage viewer of the chip's own tab (chat, 核对, 主题) asks the server for the
//                                passage inside its speech;
//   #cmp-LABEL, #ol-…         -> scroll to that element, highlighted (a comparison's passage, a speech's heading);
//   #topic:NAME               -> the outline asks the server to open the topic view on NAME.

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
  speechesHook();
  watch('value', function () {
    var mark = element.querySelector('mark.cited');
    if (mark) speechesScrollTo(mark);
  });
}

function speechesTarget(kind, link) {
  // The component of this kind in the link's own tab, else the first one still on the page.
  var all = (window.__speechesTargets || []).filter(function (t) {
    return t.kind === kind && t.element.isConnected;
  });
  var panel = link.closest('[role="tabpanel"]');
  for (var i = 0; i < all.length; i++) {
    if (panel && panel.contains(all[i].element)) return all[i];
  }
  return all[0];
}

function speechesRegister(kind, element, trigger) {
  window.__speechesTargets = window.__speechesTargets || [];
  window.__speechesTargets.push({ kind: kind, element: element, trigger: trigger });
  speechesHook();
}

function speechesHook() {
  // One click (and space key) handler for every link of the page, set up by the first component that loads.
  if (window.__speechesLinksHooked) return;
  window.__speechesLinksHooked = true;
  function open(link) {
    var href = link.getAttribute('href') || '';
    var target;
    if (href.indexOf('#cite:') === 0) {
      target = speechesTarget('viewer', link);
      if (!target) return false;
      target.trigger('click', { cite: href });
    } else if (href.indexOf('#topic:') === 0) {
      target = speechesTarget('topic', link);
      if (!target) return false;
      target.trigger('click', { topic: href });
    } else if (href.indexOf('#cmp-') === 0 || href.indexOf('#ol-') === 0) {
      var mark = document.getElementById(decodeURIComponent(href.slice(1)));
      if (mark) { speechesScrollTo(mark); speechesFlash(mark); }
    } else {
      return false;
    }
    return true;
  }
  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('a.cite-chip, a.jump');
    if (link && open(link)) event.preventDefault();
  });
  document.addEventListener('keydown', function (event) {
    if (event.key !== ' ') return; // Enter already clicks a link
    var link = event.target.closest && event.target.closest('a.cite-chip, a.jump');
    if (link && open(link)) event.preventDefault();
  });
}

function speechesViewer(element, trigger, watch) {
  // A passage viewer: chips of its tab open their passage here.
  speechesWatchMarks(element, watch);
  speechesRegister('viewer', element, trigger);
}

function speechesTopicLinks(element, trigger) {
  // A speech's outline: its formulas' #topic: links open the topic view.
  speechesRegister('topic', element, trigger);
}
