"""The admin's small kit, shared by every domain's views.

``forms`` (the CSRF-protected base form), ``fields`` (money, percentages, kind-dependent values,
ids), ``formatters`` (column cells: money, masked phones, customers, order numbers, labelled
choices), ``times`` (the shop's time zone in lists, forms and filters) and ``pages`` (custom
pages: a form page, an action button; the single-row settings view; the list with tools).
"""
