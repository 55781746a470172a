// The intranet widget: one <script> tag adds a floating chat button that opens the app's /embed page in an iframe.
//
//   <script src="https://speeches.intranet/widget.js" defer
//           data-title="讲话助手" data-position="bottom-right" data-color="#b91c1c"
//           data-speech="2025-city-work-meeting" data-token="..."></script>
//
// data-title     button and panel title (default 讲话助手)
// data-position  bottom-right (default), bottom-left, top-right, top-left
// data-color     any CSS colour for the button and the chat's header
// data-speech    a speech id: the chat searches that speech by default
// data-token     the readers' token, when the app requires one (SPEECHES_ACCESS_TOKEN); never the librarians'
// The page's origin must be listed in the app's SPEECHES_FRAME_ANCESTORS, or the browser refuses the iframe.
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || window.__speechesWidget) return;
  window.__speechesWidget = true;

  var base = script.src.replace(/widget\.js(?:[?#].*)?$/, '');
  var data = script.dataset;
  var title = data.title || '讲话助手';
  var positions = ['bottom-right', 'bottom-left', 'top-right', 'top-left'];
  var position = positions.indexOf(data.position) >= 0 ? data.position : 'bottom-right';
  var color = data.color && window.CSS && CSS.supports('color', data.color) ? data.color : '';

  var style = document.createElement('link');
  style.rel = 'stylesheet';
  style.href = base + 'widget.css';
  document.head.appendChild(style);

  var root = document.createElement('div');
  root.className = 'speeches-widget speeches-widget--' + position;
  if (color) root.style.setProperty('--speeches-widget-color', color);

  var button = document.createElement('button');
  button.type = 'button';
  button.className = 'speeches-widget__button';
  button.setAttribute('aria-expanded', 'false');
  button.setAttribute('aria-label', title);
  var SVG = 'http://www.w3.org/2000/svg';  // a namespace name, not a request
  var icon = document.createElementNS(SVG, 'svg');
  icon.setAttribute('class', 'speeches-widget__icon');
  icon.setAttribute('viewBox', '0 0 24 24');
  icon.setAttribute('aria-hidden', 'true');
  var bubble = document.createElementNS(SVG, 'path');
  bubble.setAttribute('d', 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z');
  bubble.setAttribute('fill', 'currentColor');
  icon.appendChild(bubble);
  var label = document.createElement('span');
  label.className = 'speeches-widget__label';
  label.textContent = title;
  button.appendChild(icon);
  button.appendChild(label);

  var panel = document.createElement('div');
  panel.className = 'speeches-widget__panel';
  panel.hidden = true;
  var frame = null;

  function embedUrl() {
    var query = new URLSearchParams();
    query.set('title', title);
    if (data.speech) query.set('speech', data.speech);
    if (color) query.set('color', color);
    // the token rides in the fragment: never sent to the server, never in a Referer or a proxy log
    var fragment = data.token ? '#token=' + encodeURIComponent(data.token) : '';
    return base + 'embed?' + query.toString() + fragment;
  }

  function open() {
    if (!frame) {
      frame = document.createElement('iframe');
      frame.className = 'speeches-widget__frame';
      frame.title = title;
      frame.src = embedUrl();
      frame.setAttribute('referrerpolicy', 'no-referrer');
      panel.appendChild(frame);
    }
    panel.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    root.classList.add('speeches-widget--open');
  }

  function close() {
    panel.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    root.classList.remove('speeches-widget--open');
    button.focus();
  }

  button.addEventListener('click', function () { panel.hidden ? open() : close(); });
  window.addEventListener('message', function (event) {
    if (frame && event.source === frame.contentWindow && event.data && event.data.type === 'speeches-widget:close') {
      close();
    }
  });
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape' && !panel.hidden) close();
  });

  root.appendChild(panel);
  root.appendChild(button);
  function attach() { document.body.appendChild(root); }
  if (document.body) attach(); else document.addEventListener('DOMContentLoaded', attach);
})();
