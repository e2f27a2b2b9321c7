-- The raw cost of placing an order, without the app: reserve one unit of stock with the
-- same conditional update checkout uses, and record the stock movement, in one transaction.
-- :variant_id is passed by bench/run.py (pgbench -D variant_id=N).
BEGIN;
UPDATE variants SET stock = stock - 1 WHERE id = :variant_id AND stock >= 1;
INSERT INTO stock_movements (variant_id, delta, reason, note, created_at)
VALUES (:variant_id, -1, 'bench', 'pgbench', now());
END;
