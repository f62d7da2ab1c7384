-- DuckDB only: a struct column for the nested properties of tests/odcs/nested-*.odcs.yaml
CREATE TABLE people (id INTEGER, address STRUCT(street VARCHAR, zip INTEGER, geo STRUCT(lat DOUBLE, lon DOUBLE)));
INSERT INTO people VALUES
  (1, {'street': 'Main St', 'zip': 10115, 'geo': {'lat': 52.5, 'lon': 13.4}}),
  (2, {'street': NULL, 'zip': 99999, 'geo': {'lat': 91.0, 'lon': 0.0}}),
  (3, NULL),
  (4, {'street': 'x', 'zip': 10115, 'geo': NULL});
CREATE TABLE baskets (id INTEGER, tags VARCHAR[], lines STRUCT(sku VARCHAR, qty INTEGER)[]);
INSERT INTO baskets VALUES
  (1, ['a', 'b'], [{'sku': 'A1', 'qty': 1}]),
  (2, ['a', 'a'], [{'sku': 'bad', 'qty': 0}, {'sku': 'B2', 'qty': 5}]),
  (3, [NULL, 'c'], []),
  (4, NULL, NULL),
  (5, ['toolongvalue'], [{'sku': NULL, 'qty': 3}, NULL]);
