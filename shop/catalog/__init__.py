"""Catalog: products, variants, images, categories, stores, stock, reviews; storefront reads."""
