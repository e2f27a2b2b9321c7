// Copy buttons next to read-only link fields: the Clipboard API where the page is a secure
// context, else the old select-and-copy (plain-HTTP LAN installs, older in-app browsers).
(function () {
  function copied(button) {
    var label = button.textContent;
    button.textContent = button.dataset.done || label;
    button.classList.add('copied');
    setTimeout(function () { button.textContent = label; button.classList.remove('copied'); }, 1600);
  }
  function fallback(input, button) {
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
    try { if (document.execCommand('copy')) { copied(button); } } catch (e) { /* the text stays selected for a manual copy */ }
  }
  document.addEventListener('click', function (event) {
    var button = event.target.closest('button.copy');
    if (!button) { return; }
    var input = button.parentElement.querySelector('.copy-src');
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () { copied(button); }, function () { fallback(input, button); });
    } else {
      fallback(input, button);
    }
  });
})();
