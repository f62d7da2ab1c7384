-- DuckDB only: a struct column for the nested properties of tests/odcs/nested-*.odcs.yaml
CREATE TABLE people (id INTEGER, address STRUCT(street VARCHAR, zip INTEGER, geo STRUCT(lat DOUBLE, lon DOUBLE)));
INSERT INTO people VALUES
  (1, {'street': 'Main St', 'zip': 10115, 'geo': {'lat': 52.5, 'lon': 13.4}}),
  (2, {'street': NULL, 'zip': 99999, 'geo': {'lat': 91.0, 'lon': 0.0}}),
  (3, NULL),
  (4, {'street': 'x', 'zip': 10115, 'geo': NULL});
