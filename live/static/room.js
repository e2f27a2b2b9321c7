/* The live room: plays the stream and follows the room's events (Server-Sent Events).
   EventSource reconnects by itself, sending Last-Event-ID, so a dropped or aged-out stream
   misses nothing. Everything viewers typed is shown with textContent, never as HTML. */
(function () {
  'use strict';
  var room = document.getElementById('room');
  if (!room) return;
  var d = room.dataset;
  function byId(id) { return document.getElementById(id); }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }
  // Units left, and the per-customer limit while the live price holds (data-limit).
  function unitsText(n, limit) {
    if (!(n > 0)) return d.tSoldOut;
    var text = fill(d.tUnits, { n: n });
    return limit ? text + ' · ' + fill(d.tLimit, { n: limit }) : text;
  }
  function showLeft(el, n) { el.textContent = unitsText(n, el.dataset.limit); }

  var video = byId('live-video');
  if (video && video.dataset.hls) {
    if (window.Hls && window.Hls.isSupported()) {
      var hls = new window.Hls();
      hls.loadSource(video.dataset.hls);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = video.dataset.hls;
    }
  }

  function showPin(pinned) {
    var box = byId('live-pinned');
    if (!pinned) { box.hidden = true; return; }
    byId('pin-name').textContent = pinned.name;
    byId('pin-name').href = pinned.page;
    byId('pin-price').textContent = pinned.pays;
    byId('pin-price').className = pinned.was ? 'price sale' : 'price';
    byId('pin-was').textContent = pinned.was;
    byId('pin-was').hidden = !pinned.was;
    byId('pin-left').dataset.limit = pinned.limit || '';
    showLeft(byId('pin-left'), pinned.units_left);
    byId('pin-buy').href = pinned.url;
    byId('pin-buy').textContent = pinned.at_live_price ? d.tBuyLive : d.tBuy;
    box.dataset.item = pinned.item;
    box.hidden = false;
  }
  function showUnits(item, left) {
    var box = byId('live-pinned');
    if (String(box.dataset.item) === String(item)) showLeft(byId('pin-left'), left);
    var row = document.querySelector('#live-shelf li[data-item="' + Number(item) + '"] .left');
    if (row) showLeft(row, left);
  }
  function addComment(c) {
    var list = byId('live-comments');
    var li = document.createElement('li');
    li.dataset.author = c.author_key;
    var who = document.createElement('b');
    who.textContent = d.tViewer.replace('{n}', c.number);
    var body = document.createElement('span');
    body.textContent = c.body;
    li.append(who, ' ', body);
    list.append(li);
    while (list.children.length > 100) list.firstElementChild.remove();
    list.scrollTop = list.scrollHeight;
  }
  var boughtTimer;
  function showBought(b) {
    var line = byId('live-bought');
    line.textContent = b.city ? fill(d.tBought, { city: b.city, product: b.product })
                              : fill(d.tBoughtNocity, { product: b.product });
    line.hidden = false;
    clearTimeout(boughtTimer);
    boughtTimer = setTimeout(function () { line.hidden = true; }, 6000);
    showUnits(b.item, b.units_left);
  }

  var seen = {};
  var source = new EventSource(d.events);
  function on(kind, handle) {
    source.addEventListener(kind, function (e) {
      if (seen[e.lastEventId]) return;
      seen[e.lastEventId] = true;
      handle(JSON.parse(e.data));
    });
  }
  on('pin', function (data) { showPin(data.pinned); });
  on('status', function (data) {
    var el = byId('live-status');
    el.textContent = JSON.parse(d.statusLabels)[data.status] || data.status;
    el.className = 'live-status status-' + data.status;
  });
  on('comment', addComment);
  on('muted', function () {});
  on('likes', function (data) { byId('live-likes').textContent = data.likes; });
  on('viewers', function (data) { byId('live-viewers').textContent = data.viewers; });
  on('bought', showBought);
  // The host set or changed the stream: the page's player (and what it may load) follows it,
  // each viewer within a few seconds (not all at once), and not while they are typing.
  on('stream', function () {
    setTimeout(function reload() {
      var typing = byId('comment-form');
      if (typing && typing.elements.body.value) { setTimeout(reload, 3000); return; }
      location.reload();
    }, Math.random() * 5000);
  });
  on('stock', function (data) { showUnits(data.item, data.units_left); });
  on('shelf', function (data) {
    var item = data.added;
    var list = byId('live-shelf');
    if (!item || list.querySelector('li[data-item="' + Number(item.item) + '"]')) return;
    var empty = list.querySelector('li.muted');
    if (empty) empty.remove();
    var li = document.createElement('li');
    li.dataset.item = item.item;
    var a = document.createElement('a');
    a.href = item.url;
    var name = document.createElement('span');
    name.className = 'name';
    name.textContent = item.name;
    var prices = document.createElement('span');
    prices.className = 'prices';
    var live = document.createElement('span');
    live.className = item.was ? 'price sale' : 'price';
    live.textContent = item.pays;
    prices.append(live);
    if (item.was) {
      var was = document.createElement('s');
      was.textContent = item.was;
      prices.append(' ', was);
    }
    var left = document.createElement('span');
    left.className = 'left';
    left.dataset.limit = item.limit || '';
    showLeft(left, item.units_left);
    a.append(name, prices, left);
    var page = document.createElement('a');
    page.className = 'shelf-page';
    page.href = item.page;
    page.textContent = d.tDetails;
    li.append(a, page);
    list.append(li);
  });

  var form = byId('comment-form');
  var error = byId('comment-error');
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var body = new FormData(form), sent = form.elements.body.value;
    fetch(d.commentUrl, { method: 'POST', body: body, headers: { 'X-CSRFToken': d.csrf, Accept: 'application/json' } })
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        // Cleared only if it still holds what was sent: the viewer may be typing the next one.
        if (answer.ok) { if (form.elements.body.value === sent) form.elements.body.value = ''; error.hidden = true; }
        else { error.textContent = answer.error; error.hidden = false; }
      })
      .catch(function () { error.textContent = d.tFailed; error.hidden = false; });
  });

  var taps = 0;
  byId('like-button').addEventListener('click', function () {
    taps += 1;
    byId('live-likes').textContent = Number(byId('live-likes').textContent) + 1;
  });
  setInterval(function () {
    if (!taps) return;
    var body = new FormData();
    body.append('taps', Math.min(taps, 50));
    taps = 0;
    fetch(d.likeUrl, { method: 'POST', body: body, headers: { 'X-CSRFToken': d.csrf } });
  }, 1000);
})();
