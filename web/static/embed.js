// The embed page's chat (web/templates/embed.html): talks to the JSON API, streams answers, opens citations.
// Everything from the server is data: text goes into the page with textContent / text nodes only, never innerHTML.
// An answer is drawn from its `segments` (answer/segments.py): its text is never parsed here, so a "[1]" quoted from
// a speech stays text. The page's own texts and lengths come from the server as JSON (#embed-config, web/render.py).
// The evidence (the quotes the answer rests on) comes first and is drawn at once; the model's synthesis streams below
// it. The conversation is kept in sessionStorage (per page and widget settings) until 新对话, so a reload keeps it.
// URL parameters (set by widget.js): title, speech (default filter), color; #token=... (the readers' token).
(function () {
  'use strict';

  var params = new URLSearchParams(location.search);
  var token = new URLSearchParams(location.hash.slice(1)).get('token') || '';  // widget.js puts it in the fragment

  var $ = function (id) { return document.getElementById(id); };
  var CONFIG = JSON.parse($('embed-config').textContent);
  var messages = $('messages'), form = $('ask'), question = $('question'), send = $('send'), stop = $('stop');
  var asking = null;  // the AbortController of the answer streaming now: 停止 aborts it, and the server stops too
  var filter = $('speech-filter'), viewer = $('viewer'), viewerText = $('viewer-text'), viewerHead = $('viewer-head');
  var turns = [];  // the answered turns: {question, answer, markdown}; kept in sessionStorage
  var speechTexts = {};
  var STORE_KEY = 'speeches-embed:' + location.pathname + location.search;

  // -- set-up from the URL --------------------------------------------------------------------------------------
  var title = params.get('title');
  if (title) { $('title').textContent = title; document.title = title; }
  var color = params.get('color');
  if (color && window.CSS && CSS.supports('color', color)) {
    document.documentElement.style.setProperty('--accent', color);
  }
  if (window.parent !== window) {
    $('close').hidden = false;
    $('close').addEventListener('click', function () {
      window.parent.postMessage({ type: 'speeches-widget:close' }, '*');
    });
  }

  function headers(json) {
    var h = {};
    if (json) h['Content-Type'] = 'application/json';
    if (token) h['Authorization'] = 'Bearer ' + token;
    return h;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function speechLabel(t, date) {  // as web/render.py names a speech (ingest/speechtext.py): 《title》（date）
    var label = CONFIG.speech_label, put = function (value) { return function () { return value; }; };
    return label.title.replace('{title}', put(t)) + (date ? label.dated.replace('{date}', put(date)) : '');
  }

  function scrollDown() { messages.scrollTop = messages.scrollHeight; }

  // -- the speech filter --------------------------------------------------------------------------------------
  fetch('api/speeches', { headers: headers(false) })
    .then(function (r) { return r.ok ? r.json() : []; })
    .then(function (speeches) {
      var wanted = params.get('speech') || '';
      speeches.forEach(function (s) {
        var option = el('option', null, s.label);  // the one label of the app (ingest/store.py speech_labels)
        option.value = s.id;
        filter.appendChild(option);
      });
      if (wanted) {
        if (!speeches.some(function (s) { return s.id === wanted; })) {
          var missing = el('option', null, wanted);
          missing.value = wanted;
          filter.appendChild(missing);
        }
        filter.value = wanted;
      }
    })
    .catch(function () { /* the filter stays "all"; asking shows the real error */ });

  // -- rendering an answer from its segments -------------------------------------------------------------------
  function chip(label, citation) {
    if (!citation) return document.createTextNode('[' + label + ']');
    var b = el('button', 'chip', label);
    b.type = 'button';
    b.title = speechLabel(citation.title || citation.speech_id, citation.date);
    b.setAttribute('aria-label', '引用 ' + label + '：' + b.title);
    b.addEventListener('click', function () { openCitation(citation); });
    return b;
  }

  // A block's runs into `parent`: text as text nodes, references as chips.
  function renderRuns(parent, runs, cited) {
    runs.forEach(function (run) {
      parent.appendChild(run.cite != null ? chip(run.cite, cited[run.cite]) : document.createTextNode(run.text));
    });
  }

  function renderAnswer(container, segments, citations) {
    container.textContent = '';
    var cited = {};
    citations.forEach(function (c) { cited[String(c.label)] = c; });
    var list = null;
    segments.forEach(function (block) {
      var node;
      if (block.kind === 'item') {
        if (!list) { list = el('ul'); container.appendChild(list); }
        node = el('li');
        list.appendChild(node);
      } else {
        list = null;
        node = el('p');
        container.appendChild(node);
      }
      renderRuns(node, block.runs, cited);
    });
  }

  // The sentences the model wrote that failed the citation check: not part of the answer, listed folded.
  function renderUnverified(container, sentences) {
    if (!sentences.length) return;
    var box = el('details', 'unverified');
    box.appendChild(el('summary', null, CONFIG.unverified_title.replace('{n}', sentences.length)));
    box.appendChild(el('p', null, CONFIG.unverified_hint));
    var list = el('ul');
    sentences.forEach(function (s) { list.appendChild(el('li', null, s)); });
    box.appendChild(list);
    container.appendChild(box);
  }

  // A finished answer in its bubble: the notice when the model could not be used, the answer, what failed the check,
  // the sources, the actions.
  function renderFinished(bubble, a, markdown) {
    bubble.className = 'msg bot';
    bubble.textContent = '';
    if (a.degraded_reason) bubble.appendChild(el('p', 'degraded-note', '⚠ ' + a.degraded_reason));
    var body = el('div', 'answer');
    bubble.appendChild(body);
    renderAnswer(body, a.segments, a.context.concat(a.citations));
    renderUnverified(bubble, a.unsupported_sentences);
    renderSources(bubble, a.citations);
    renderActions(bubble, a, markdown);
  }

  function renderSources(container, citations) {
    if (!citations.length) return;
    var list = el('ol', 'sources');
    citations.forEach(function (c) {
      var item = el('li');
      item.appendChild(chip(String(c.label), c));
      item.appendChild(document.createTextNode(' '));
      item.appendChild(el('span', 'where', speechLabel(c.title || c.speech_id, c.date)));
      var snippet = (c.text || '').replace(/\s+/g, ' ').trim();
      if (snippet.length > CONFIG.snippet_chars) snippet = snippet.slice(0, CONFIG.snippet_chars) + '…';
      item.appendChild(document.createTextNode(' '));
      item.appendChild(el('span', 'snippet', snippet));
      list.appendChild(item);
    });
    container.appendChild(list);
  }

  function regenerateButton(answered) {
    var again = el('button', 'regenerate', '重新生成');
    again.type = 'button';
    again.title = '重新回答这个问题';
    again.addEventListener('click', function () { regenerate(answered); });
    return again;
  }

  function renderActions(container, answer, markdown) {
    var actions = el('div', 'actions');
    var copy = el('button', null, '复制');
    copy.type = 'button';
    copy.title = '复制回答和来源（Markdown）';
    copy.addEventListener('click', function () {
      copyText(markdown).then(function () { copy.textContent = '已复制'; });
    });
    actions.appendChild(copy);
    actions.appendChild(regenerateButton(true));
    [['up', '有帮助'], ['down', '没帮助']].forEach(function (v) {
      var b = el('button', null, v[1]);
      b.type = 'button';
      b.setAttribute('aria-pressed', 'false');
      b.addEventListener('click', function () {
        fetch('api/feedback', { method: 'POST', headers: headers(true),
                                body: JSON.stringify({ vote: v[0], answer: answer }) })
          .then(function (r) {
            if (!r.ok) return;
            actions.querySelectorAll('button[aria-pressed]').forEach(function (o) {
              o.setAttribute('aria-pressed', 'false');
            });
            b.setAttribute('aria-pressed', 'true');
          });
      });
      actions.appendChild(b);
    });
    container.appendChild(actions);
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = el('textarea');
    area.value = text;
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    try { document.execCommand('copy'); } finally { area.remove(); }
    return Promise.resolve();
  }

  // -- the cited passage in its speech ------------------------------------------------------------------------
  function openCitation(c) {
    viewerHead.textContent = '[' + c.label + '] ' + speechLabel(c.title || c.speech_id, c.date);
    viewerText.textContent = '正在打开原文…';
    messages.hidden = true;
    form.hidden = true;
    viewer.hidden = false;
    var got = speechTexts[c.speech_id] || fetch('api/speeches/' + encodeURIComponent(c.speech_id),
                                                { headers: headers(false) })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); });
    speechTexts[c.speech_id] = got;
    got.then(function (res) {
      if (!res.ok) { speechTexts[c.speech_id] = null; viewerText.textContent = res.body.error || '打不开原文。'; return; }
      var text = res.body.text, start = Math.min(c.start, text.length), end = Math.min(c.end, text.length);
      viewerText.textContent = '';
      viewerText.appendChild(document.createTextNode(text.slice(0, start)));
      var mark = el('mark', 'cited', text.slice(start, end));
      viewerText.appendChild(mark);
      viewerText.appendChild(document.createTextNode(text.slice(end)));
      viewerText.scrollTop = Math.max(0, mark.offsetTop - viewerText.offsetTop - viewerText.clientHeight / 3);
      mark.scrollIntoView({ block: 'nearest' });
    }).catch(function () { speechTexts[c.speech_id] = null; viewerText.textContent = '打不开原文：连接中断。'; });
  }

  $('viewer-back').addEventListener('click', function () {
    viewer.hidden = true;
    messages.hidden = false;
    form.hidden = false;
    question.focus();
  });

  // -- asking -------------------------------------------------------------------------------------------------
  function readLines(response, onLine) {
    var reader = response.body.getReader(), decoder = new TextDecoder(), buffer = '';
    function handle(lines) {
      // One line per task: every delta is painted, even when several arrive in one network chunk.
      return lines.reduce(function (done, line) {
        return done.then(function () {
          if (line.trim()) onLine(JSON.parse(line));
          return new Promise(function (resolve) { setTimeout(resolve, 0); });
        });
      }, Promise.resolve());
    }
    function pump() {
      return reader.read().then(function (chunk) {
        buffer += decoder.decode(chunk.value || new Uint8Array(), { stream: !chunk.done });
        var lines = buffer.split('\n');
        buffer = chunk.done ? '' : lines.pop();
        return handle(lines).then(function () { if (!chunk.done) return pump(); });
      });
    }
    return pump();
  }

  function showError(bubble, message) {
    bubble.className = 'msg bot error';
    bubble.textContent = '⚠ ' + message;
  }

  // What the server accepts at its smallest history limits (SPEECHES_MAX_HISTORY_TURNS >= 8,
  // SPEECHES_MAX_HISTORY_CHARS >= 8000): the last 4 turns, 1000 characters a message.
  function historyOf(done) {
    var history = [];
    done.slice(-4).forEach(function (t) {
      history.push({ role: 'user', content: t.question.slice(0, 1000) });
      history.push({ role: 'assistant', content: t.answer.answer.slice(0, 1000),
                     citations: t.answer.citations.map(function (c) { return { speech_id: c.speech_id }; }) });
    });
    return history;
  }

  function save() {
    try { sessionStorage.setItem(STORE_KEY, JSON.stringify({ turns: turns.slice(-20) })); } catch (e) { /* full */ }
  }

  function busy(controller) {
    asking = controller;
    send.disabled = !!controller;
    send.hidden = !!controller;
    stop.hidden = !controller;
  }

  function addQuestion(text) {
    $('hint') && $('hint').remove();
    messages.appendChild(el('div', 'msg user', text));
    var bubble = el('div', 'msg bot');
    messages.appendChild(bubble);
    return bubble;
  }

  // Only the last answer can be asked again: its button is the one shown.
  function lastRegenerateOnly() {
    var buttons = messages.querySelectorAll('button.regenerate');
    buttons.forEach(function (b, i) { b.hidden = i !== buttons.length - 1; });
  }

  // A stopped or failed answer can be asked again too (it is no turn of the conversation).
  function addRegenerate(bubble) {
    var actions = el('div', 'actions');
    actions.appendChild(regenerateButton(false));
    bubble.appendChild(actions);
    lastRegenerateOnly();
  }

  function ask(text) {
    var bubble = addQuestion(text);
    bubble.dataset.question = text;
    var evidence = el('div', 'answer');
    var body = el('div', 'answer streaming');
    bubble.appendChild(evidence);
    bubble.appendChild(body);
    scrollDown();
    var controller = new AbortController();
    busy(controller);
    var streamed = '', finished = false;
    var request = { question: text, history: historyOf(turns),
                    speech_ids: filter.value ? [filter.value] : null };
    return fetch('api/ask/stream', { method: 'POST', headers: headers(true), body: JSON.stringify(request),
                                     signal: controller.signal })
      .then(function (response) {
        if (!response.ok) {
          return response.json().catch(function () { return {}; }).then(function (b) {
            finished = true;
            showError(bubble, b.error || ('请求失败（' + response.status + '）'));
            addRegenerate(bubble);
          });
        }
        return readLines(response, function (item) {
          if (item.evidence) {  // the quotes, at once; the synthesis streams below them
            renderAnswer(evidence, item.evidence.segments, item.evidence.citations);
            scrollDown();
          } else if (item.delta != null) {
            streamed += item.delta;
            body.textContent = streamed;
            scrollDown();
          } else if (item.queue) {  // waiting for the local model: say where in the queue
            body.textContent = streamed + item.queue.text;
            scrollDown();
          } else if (item.answer) {
            finished = true;
            renderFinished(bubble, item.answer, item.markdown);
            turns.push({ question: text, answer: item.answer, markdown: item.markdown });
            save();
            lastRegenerateOnly();
          } else if (item.error) {
            finished = true;
            showError(bubble, item.error);
            addRegenerate(bubble);
          }
        });
      })
      .catch(function () {
        finished = true;
        if (controller.signal.aborted) {  // 停止: what was shown stays, marked; it is no part of the history
          body.className = 'answer stopped';
          body.textContent = streamed;
          bubble.appendChild(el('p', 'note stopped-note', CONFIG.stopped_note));
        } else {
          showError(bubble, '连接中断，请稍后再试。');
        }
        addRegenerate(bubble);
      })
      .then(function () {
        if (!finished) { showError(bubble, '回答没有完成，请重试。'); addRegenerate(bubble); }
        busy(null);
        scrollDown();
      });
  }

  // 重新生成: the last question asked again, its answer replaced (``answered``: it is the conversation's last turn).
  function regenerate(answered) {
    if (asking) return;
    var bots = messages.querySelectorAll('.msg.bot'), users = messages.querySelectorAll('.msg.user');
    var text = answered ? (turns.length ? turns[turns.length - 1].question : null)
                        : (bots.length ? bots[bots.length - 1].dataset.question : null);
    if (!text) return;
    if (answered) { turns.pop(); save(); }
    if (bots.length) bots[bots.length - 1].remove();
    if (users.length) users[users.length - 1].remove();
    ask(text);
  }

  // The conversation this tab kept, drawn again after a reload; anything unreadable is dropped.
  function restore() {
    var kept;
    try { kept = JSON.parse(sessionStorage.getItem(STORE_KEY) || 'null'); } catch (e) { kept = null; }
    if (!kept || !Array.isArray(kept.turns)) return;
    kept.turns.forEach(function (t) {
      try {
        var bubble = addQuestion(String(t.question));
        renderFinished(bubble, t.answer, String(t.markdown || ''));
        turns.push(t);
      } catch (e) { /* an entry that is no answer */ }
    });
    lastRegenerateOnly();
    scrollDown();
  }

  stop.addEventListener('click', function () {
    if (asking) asking.abort();
    question.focus();
  });

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var text = question.value.trim();
    if (!text || asking) return;
    question.value = '';
    ask(text);
  });
  question.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  $('new-chat').addEventListener('click', function () {
    turns = [];
    save();
    messages.textContent = '';
    $('viewer-back').click();
  });
  restore();
})();
