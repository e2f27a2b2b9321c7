/* The host console: one tap per action, a heartbeat while on air (the session stays live only
   while it beats), the room's comments with a mute button each (over the room's own stream). */
(function () {
  'use strict';
  var host = document.getElementById('host');
  if (!host) return;
  var d = host.dataset;
  var note = document.getElementById('host-note');
  var status = d.status;

  // What each action can do in each status: going live from scheduled or paused, pausing a
  // live session, ending one not ended, unpinning what is pinned; nothing changes an ended
  // session's shelf or pin.
  function showStatus(now) {
    status = now;
    var ended = now === 'ended';
    host.querySelectorAll('[data-do]').forEach(function (button) {
      var action = button.dataset.do;
      button.disabled = action === 'start' ? (now === 'live' || ended)
        : action === 'pause' ? now !== 'live'
        : action === 'unpin' ? (ended || !host.querySelector('.host-shelf li.pinned'))
        : action !== 'mute' && ended;
    });
    var shelve = host.querySelector('#shelf-form button[type=submit]');
    if (shelve) shelve.disabled = ended;
  }
  showStatus(status);

  // ``errorAt``: where a refusal is said (the form it answers); the note above otherwise.
  function send(action, fields, errorAt) {
    var body = new FormData();
    Object.keys(fields || {}).forEach(function (k) { body.append(k, fields[k]); });
    return fetch(d.action.replace('ACTION', action), {
      method: 'POST', body: body, headers: { 'X-CSRFToken': d.csrf, Accept: 'application/json' }
    }).then(function (r) { return r.json(); }).then(function (answer) {
      if (answer.status) showStatus(answer.status);
      if (errorAt) {
        errorAt.textContent = answer.ok ? '' : answer.error;
        errorAt.hidden = !!answer.ok;
        if (answer.ok) note.textContent = answer.message;
      } else if (action !== 'heartbeat' || !answer.ok) {
        note.textContent = answer.ok ? answer.message : answer.error;
      }
      return answer;
    }).catch(function () { note.textContent = d.tFailed; });
  }

  host.addEventListener('click', function (e) {
    var button = e.target.closest('[data-do]');
    if (!button) return;
    var fields = {};
    if (button.dataset.item) fields.item = button.dataset.item;
    if (button.dataset.author) fields.author = button.dataset.author;
    send(button.dataset.do, fields).then(function (answer) {
      if (!answer || !answer.ok) return;
      if (button.dataset.do === 'pin' || button.dataset.do === 'unpin') {
        document.querySelectorAll('.host-shelf li').forEach(function (li) {
          li.classList.toggle('pinned', li.dataset.item === button.dataset.item);
        });
        showStatus(status);  // Unpin: only while something is pinned
      }
    });
  });

  function shelfLine(item) {
    var li = document.createElement('li');
    li.dataset.item = item.item;
    var text = document.createElement('span');
    var name = document.createElement('strong');
    name.textContent = item.name;
    var small = document.createElement('small');
    small.textContent = item.live_price + ' · ' + d.tSold.replace('{n}', item.sold);
    if (!item.at_live_price) small.textContent += ' · ' + d.tViewersPay.replace('{price}', item.pays);
    text.append(name, document.createElement('br'), small);
    var pin = document.createElement('button');
    pin.className = 'btn';
    pin.type = 'button';
    pin.dataset.do = 'pin';
    pin.dataset.item = item.item;
    pin.textContent = d.tPin;
    li.append(text, pin);
    return li;
  }

  // A console form: posted by ``action``, its refusal said inside it (``errorId``).
  function onSubmit(formId, action, errorId, done) {
    var form = document.getElementById(formId);
    if (!form) return;
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var fields = {};
      new FormData(form).forEach(function (value, key) { fields[key] = value; });
      send(action, fields, document.getElementById(errorId)).then(function (answer) {
        if (answer && answer.ok) done(form, answer);
      });
    });
  }

  onSubmit('shelf-form', 'shelve', 'shelf-error', function (form, answer) {
    var empty = document.getElementById('host-shelf-empty');
    if (empty) empty.remove();
    document.getElementById('host-unpin').hidden = false;
    document.getElementById('host-shelf').append(shelfLine(answer.item));
    form.reset();
    document.getElementById('host-add').open = false;
  });

  onSubmit('stream-form', 'stream', 'stream-error', function () {
    var unset = document.getElementById('stream-unset');
    if (unset) unset.remove();
    document.getElementById('host-stream').open = false;
  });

  setInterval(function () {
    if (status === 'live' || status === 'paused') send('heartbeat');  // paused still beats: the session stays on
  }, Number(d.heartbeat) * 1000);

  var source = new EventSource(d.events);
  source.addEventListener('status', function (e) {
    var data = JSON.parse(e.data);
    showStatus(data.status);
    var el = document.getElementById('live-status');
    el.textContent = JSON.parse(d.statusLabels)[data.status] || data.status;
    el.className = 'live-status status-' + data.status;
  });
  source.addEventListener('viewers', function (e) {
    document.getElementById('live-viewers').textContent = JSON.parse(e.data).viewers;
  });
  source.addEventListener('likes', function (e) {
    document.getElementById('live-likes').textContent = JSON.parse(e.data).likes;
  });
  source.addEventListener('comment', function (e) {
    var c = JSON.parse(e.data);
    var li = document.createElement('li');
    li.dataset.author = c.author_key;
    var text = document.createElement('span');
    var who = document.createElement('b');
    who.textContent = d.tViewer.replace('{n}', c.number);
    var body = document.createElement('span');
    body.textContent = c.body;
    text.append(who, ' ', body);
    var mute = document.createElement('button');
    mute.className = 'btn';
    mute.type = 'button';
    mute.dataset.do = 'mute';
    mute.dataset.author = c.author_key;
    mute.textContent = d.tMute;
    li.append(text, mute);
    document.getElementById('live-comments').append(li);
  });
})();
