//! Contract -> the queries to run for one dataset.
//!
//! Every aggregate metric of every check with the same filter goes into ONE query,
//! deduplicated by its printed SQL, so two checks needing COUNT(*) share it and a table
//! is scanned once per distinct filter. Checks that need another table or the user's
//! own query get queries of their own.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::checks::{Handles, NeedCtx, Needs, OwnQuery, RowDiffSpec, Side, SqlRole};
use crate::contract::Contract;
use crate::diag::{Diag, Diags};
use crate::engine::DataSourceConfig;
use crate::exec::ColumnInfo;
use crate::interp::{self, Vars};
use crate::model::SqlText;
use crate::source::Source;
use crate::sql::ast::{Expr, Select, SelectItem, TableRef};
use crate::sql::dialect::{print_expr, print_select, Dialect};
use crate::sql::user_sql;

/// A contract checked against its data source: tables resolved, user SQL validated.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub contract: Arc<Contract>,
    pub data_source: DataSourceConfig,
    pub table: TableRef,
    /// check index -> table of its valid_reference_data
    pub reference_tables: HashMap<usize, TableRef>,
    /// files data source: (view name, file) for the dataset and its reference data
    pub files: Vec<(String, PathBuf)>,
    /// the reconciliation's source datasets, in the contract's order
    pub sources: Vec<ResolvedSource>,
}

/// A reconciliation's source dataset, resolved in its own data source.
#[derive(Debug, Clone)]
pub struct ResolvedSource {
    pub data_source: DataSourceConfig,
    pub table: TableRef,
    /// as the contract names it
    pub dataset: String,
    /// files data source: (view name, file)
    pub files: Vec<(String, PathBuf)>,
}

impl ResolvedSource {
    pub fn dialect(&self) -> &'static dyn Dialect {
        self.data_source.dialect()
    }
}

impl Resolved {
    pub fn dialect(&self) -> &'static dyn Dialect {
        self.data_source.dialect()
    }
}

/// Resolve a contract's dataset (and its reconciliation's sources, in `sources`, one
/// data source per source in the contract's order) and validate every piece of SQL it
/// holds, each for the engine that runs it, before anything runs. Errors point at the
/// YAML.
pub fn resolve(
    contract: Arc<Contract>,
    ds: &DataSourceConfig,
    sources: &[DataSourceConfig],
) -> Result<Resolved, Diags> {
    let mut contract = (*contract).clone();
    let mut diags = Diags::default();
    let mut files = Vec::new();
    let table = match ds.table_ref(&contract.dataset.path) {
        Ok(t) => {
            if let Some(p) = ds.file_path(&contract.dataset.path) {
                files.push((t.name().to_string(), p));
            }
            Some(t)
        }
        Err(e) => {
            diags.push(Diag::at(
                &contract.source,
                contract.dataset.span,
                format!("dataset '{}': {e}", contract.dataset.text),
                "here",
            ));
            None
        }
    };
    let resolved_sources = resolve_sources(&mut contract, sources, &mut diags);
    let pending = |dialect| PendingSql {
        source: contract.source.clone(),
        vars: contract.vars.clone(),
        dialect,
    };
    let sql = pending(ds.dialect());
    let source_sql: Vec<PendingSql> = sources.iter().map(|s| pending(s.dialect())).collect();
    if let Some(f) = &mut contract.filter {
        sql.fill(f, "the dataset filter", SqlRole::Expression, &mut diags);
    }
    for check in contract.checks.iter_mut() {
        let id = check.id.clone();
        let on_source = check.source.as_ref().and_then(|s| source_sql.get(s.index));
        if let Some(f) = &mut check.filter {
            sql.fill(
                f,
                &format!("the filter of {id}"),
                SqlRole::Expression,
                &mut diags,
            );
        }
        if let (Some(src), Some(f)) = (
            on_source,
            check.source.as_mut().and_then(|s| s.filter.as_mut()),
        ) {
            let what = format!("the filter of {id} on its source");
            src.fill(f, &what, SqlRole::Expression, &mut diags);
        }
        for u in check.kind.user_sql() {
            let what = format!("the {} of {id}", u.key);
            match (u.side, on_source) {
                (Side::Source, Some(src)) => src.fill(u.text, &what, u.role, &mut diags),
                _ => sql.fill(u.text, &what, u.role, &mut diags),
            }
        }
    }
    let reference_tables = reference_tables(&contract, ds, &mut files, &mut diags);
    match table {
        Some(table) if diags.is_empty() => Ok(Resolved {
            contract: Arc::new(contract),
            data_source: ds.clone(),
            table,
            reference_tables,
            files,
            sources: resolved_sources,
        }),
        _ => Err(diags),
    }
}

/// Each reconciliation source's table in its data source, its filter filled in and
/// validated for that engine.
fn resolve_sources(
    contract: &mut Contract,
    sources: &[DataSourceConfig],
    diags: &mut Diags,
) -> Vec<ResolvedSource> {
    let mut out = Vec::new();
    for (source, ds) in contract.sources.iter_mut().zip(sources) {
        let pending = PendingSql {
            source: contract.source.clone(),
            vars: contract.vars.clone(),
            dialect: ds.dialect(),
        };
        if let Some(f) = &mut source.filter {
            let what = format!("the filter of source {}", source.dataset.text);
            pending.fill(f, &what, SqlRole::Expression, diags);
        }
        match ds.table_ref(&source.dataset.path) {
            Ok(table) => {
                let files = ds
                    .file_path(&source.dataset.path)
                    .map(|p| (table.name().to_string(), p))
                    .into_iter()
                    .collect();
                out.push(ResolvedSource {
                    data_source: ds.clone(),
                    table,
                    dataset: source.dataset.text.clone(),
                    files,
                });
            }
            Err(e) => diags.push(Diag::at(
                &contract.source,
                source.dataset.span,
                format!("source dataset '{}': {e}", source.dataset.text),
                "here",
            )),
        }
    }
    out
}

/// What user SQL is filled in and validated with.
struct PendingSql {
    source: Source,
    vars: Vars,
    dialect: &'static dyn Dialect,
}

impl PendingSql {
    /// Fill in placeholders for this engine and validate; what runs is what was validated.
    fn fill(&self, sql: &mut SqlText, what: &str, role: SqlRole, diags: &mut Diags) {
        let filled =
            match interp::interpolate_sql(&sql.template, Some(&self.vars), &self.dialect.lexicon())
            {
                Ok(text) => text,
                Err(e) => {
                    diags.push(
                        Diag::at(
                            &self.source,
                            sql.span,
                            format!("{what}: {}", e.message()),
                            "this SQL",
                        )
                        .with_help(e.help()),
                    );
                    return;
                }
            };
        let (result, help) = match role {
            SqlRole::Query => (
                user_sql::check_query(self.dialect, &filled),
                "write one SELECT statement; it runs read-only",
            ),
            SqlRole::Expression => (
                user_sql::check_expression(self.dialect, &filled),
                "write one SQL expression, without a trailing ';'",
            ),
        };
        match result {
            Ok(clean) => sql.sql = clean,
            Err(e) => diags.push(
                Diag::at(&self.source, sql.span, format!("{what} {e}"), "this SQL").with_help(help),
            ),
        }
    }
}

/// check index -> the table of its `valid_reference_data`, which must be in the same
/// data source.
fn reference_tables(
    contract: &Contract,
    ds: &DataSourceConfig,
    files: &mut Vec<(String, PathBuf)>,
    diags: &mut Diags,
) -> HashMap<usize, TableRef> {
    let src = &contract.source;
    let mut tables = HashMap::new();
    for (i, check) in contract.checks.iter().enumerate() {
        let Some(rd) = check.kind.reference_data() else {
            continue;
        };
        let parts = crate::contract::dataset_parts(&rd.dataset);
        if parts.first().map(String::as_str) != Some(ds.name.as_str()) || parts.len() < 2 {
            diags.push(
                Diag::at(
                    src,
                    rd.span,
                    format!(
                        "valid_reference_data dataset '{}' must be in the same data source '{}'",
                        rd.dataset, ds.name
                    ),
                    "here",
                )
                .with_help(format!("write it as {}/.../table", ds.name)),
            );
            continue;
        }
        match ds.table_ref(&parts[1..]) {
            Ok(t) => {
                if let Some(p) = ds.file_path(&parts[1..]) {
                    files.push((t.name().to_string(), p));
                }
                tables.insert(i, t);
            }
            Err(e) => diags.push(Diag::at(
                src,
                rd.span,
                format!("valid_reference_data: {e}"),
                "here",
            )),
        }
    }
    tables
}

#[derive(Debug, Clone)]
pub struct PlannedQuery {
    /// what the query is for, shown in `--plan` and logs
    pub label: String,
    pub sql: String,
    /// aggregate queries keep their tree, to split it per check if the query fails
    pub select: Option<Select>,
    /// Does the SQL hold user-written text? Without it, an engine may skip what it checks
    /// user SQL with (`Session::rows_without_user_sql`).
    pub user_sql: bool,
}

/// Where one side's values of a check come from: its aggregates' (query, items), its
/// own queries, and whether it reads the catalog's columns.
#[derive(Debug, Clone, Default)]
pub struct SidePlan {
    /// (query index, item indexes) of the check's aggregates; item 0 of every aggregate
    /// query is COUNT(*), the rows tested
    pub aggregates: Option<(usize, Vec<usize>)>,
    pub own_queries: Vec<usize>,
    pub schema: bool,
}

#[derive(Debug, Clone)]
pub enum CheckPlan {
    Run {
        /// what the check's `needs` returned, for its `measure`
        handles: Handles,
        target: SidePlan,
        /// a reconciliation check's: (source index, its plan in that source's queries)
        source: Option<(usize, SidePlan)>,
        /// `rows_diff`: the row-level comparison it runs across the two sides
        row_diff: Option<Box<RowDiffSpec>>,
    },
    /// cannot run, with the reason (a column it needs does not exist)
    Skip(String),
}

#[derive(Debug, Clone)]
pub struct DatasetPlan {
    pub queries: Vec<PlannedQuery>,
    pub checks: Vec<CheckPlan>,
    /// per reconciliation source (in the contract's order), the queries its engine runs
    pub sources: Vec<Vec<PlannedQuery>>,
}

struct QueryGroup {
    filter: Option<Expr>,
    label: String,
    items: Vec<SelectItem>,
    by_sql: HashMap<String, usize>,
    /// aliases in use, and per wanted name the next number to try: a contract with
    /// thousands of checks of one kind must not rescan every item per new alias (that was
    /// cubic: 8,000 checks took minutes to plan)
    aliases: HashSet<String>,
    next_suffix: HashMap<String, usize>,
}

impl QueryGroup {
    fn new(filter: Option<Expr>, label: String) -> QueryGroup {
        let mut g = QueryGroup {
            filter,
            label,
            items: Vec::new(),
            by_sql: HashMap::new(),
            aliases: HashSet::new(),
            next_suffix: HashMap::new(),
        };
        g.items.push(SelectItem {
            expr: Expr::CountAll,
            alias: Some("row_count".into()),
        });
        g.aliases.insert("row_count".into());
        g.by_sql.insert("COUNT(*)".into(), 0);
        g
    }

    fn add(&mut self, d: &dyn Dialect, name: &str, expr: &Expr) -> usize {
        let sql = print_expr(d, expr);
        if let Some(i) = self.by_sql.get(&sql) {
            return *i;
        }
        let mut alias = name.to_string();
        let n = self.next_suffix.entry(name.to_string()).or_insert(2);
        while self.aliases.contains(&alias) {
            alias = format!("{name}_{n}");
            *n += 1;
        }
        self.aliases.insert(alias.clone());
        self.items.push(SelectItem {
            expr: expr.clone(),
            alias: Some(alias),
        });
        self.by_sql.insert(sql, self.items.len() - 1);
        self.items.len() - 1
    }
}

/// The dataset filter AND the check's filter.
pub fn and_filters(a: Option<&SqlText>, b: Option<&SqlText>) -> Option<Expr> {
    let parts: Vec<Expr> = [a, b]
        .into_iter()
        .flatten()
        .map(|s| Expr::Raw(s.sql.clone()))
        .collect();
    (!parts.is_empty()).then(|| Expr::and(parts))
}

/// The queries of one side of a dataset (the contract's dataset, or one reconciliation
/// source), built check by check: aggregates share one query per distinct check filter.
struct SidePlanner<'a> {
    dialect: &'a dyn Dialect,
    table: &'a TableRef,
    /// the dataset's own filter (the contract's, or the source's)
    dataset_filter: Option<&'a SqlText>,
    groups: Vec<QueryGroup>,
    /// the group of checks without a filter of their own
    unfiltered: Option<usize>,
    group_of_filter: HashMap<String, usize>,
    own: Vec<PlannedQuery>,
}

impl<'a> SidePlanner<'a> {
    /// `always`: the dataset's metrics query runs even when no check needs it (the
    /// contract's dataset: its rows tested are in every result); a source's runs only
    /// when a check asks for one of its aggregates.
    fn new(
        dialect: &'a dyn Dialect,
        table: &'a TableRef,
        dataset_filter: Option<&'a SqlText>,
        always: bool,
    ) -> SidePlanner<'a> {
        let mut planner = SidePlanner {
            dialect,
            table,
            dataset_filter,
            groups: Vec::new(),
            unfiltered: None,
            group_of_filter: HashMap::new(),
            own: Vec::new(),
        };
        if always {
            planner.unfiltered_group();
        }
        planner
    }

    fn unfiltered_group(&mut self) -> usize {
        let (groups, filter) = (&mut self.groups, self.dataset_filter);
        *self.unfiltered.get_or_insert_with(|| {
            groups.push(QueryGroup::new(
                and_filters(filter, None),
                "metrics".to_string(),
            ));
            groups.len() - 1
        })
    }

    /// Place one check's needs on this side; own query indexes count from the first
    /// own query (`finish` moves them past the aggregate queries).
    fn add(&mut self, label: &str, check_filter: Option<&SqlText>, needs: Needs) -> SidePlan {
        let d = self.dialect;
        let aggregates = if needs.aggregates.is_empty() {
            None
        } else {
            let g = match check_filter {
                None => self.unfiltered_group(),
                Some(f) => {
                    let filter = and_filters(self.dataset_filter, Some(f));
                    let groups = &mut self.groups;
                    *self
                        .group_of_filter
                        .entry(f.sql.clone())
                        .or_insert_with(|| {
                            groups.push(QueryGroup::new(
                                filter,
                                format!("metrics where {}", f.sql.trim()),
                            ));
                            groups.len() - 1
                        })
                }
            };
            let items = needs
                .aggregates
                .iter()
                .map(|m| self.groups[g].add(d, &m.name, &m.expr))
                .collect();
            Some((g, items))
        };
        let own_queries = needs
            .own_queries
            .into_iter()
            .map(|q| {
                self.own.push(PlannedQuery {
                    label: label.to_string(),
                    user_sql: match &q {
                        OwnQuery::Select(s) => s.holds_user_sql(),
                        OwnQuery::CountRowsOf(_) | OwnQuery::Value(_) => true,
                    },
                    sql: own_query_sql(d, q),
                    select: None,
                });
                self.own.len() - 1
            })
            .collect();
        SidePlan {
            aggregates,
            own_queries,
            schema: needs.schema,
        }
    }

    /// The side's queries: its aggregate queries, then the checks' own; and how far own
    /// query indexes move.
    fn finish(self) -> (Vec<PlannedQuery>, usize) {
        let d = self.dialect;
        let group_count = self.groups.len();
        let mut queries: Vec<PlannedQuery> = self
            .groups
            .into_iter()
            .map(|g| {
                let select = Select::new(g.items, self.table.clone(), g.filter);
                PlannedQuery {
                    label: g.label,
                    sql: print_select(d, &select),
                    user_sql: select.holds_user_sql(),
                    select: Some(select),
                }
            })
            .collect();
        queries.extend(self.own);
        (queries, group_count)
    }
}

/// Plan a resolved contract. With `known_columns` (read from the catalog), checks on
/// columns that do not exist are skipped with a reason instead of breaking the shared
/// query for every other check; `source_columns` are each reconciliation source's.
pub fn plan(
    resolved: &Resolved,
    known_columns: Option<&[ColumnInfo]>,
    source_columns: &[Option<&[ColumnInfo]>],
) -> DatasetPlan {
    let d = resolved.dialect();
    let contract = &resolved.contract;
    let mut target = SidePlanner::new(d, &resolved.table, contract.filter.as_ref(), true);
    let mut sources: Vec<SidePlanner> = resolved
        .sources
        .iter()
        .zip(&contract.sources)
        .map(|(r, c)| SidePlanner::new(r.dialect(), &r.table, c.filter.as_ref(), false))
        .collect();
    let mut check_plans = Vec::with_capacity(contract.checks.len());

    for (i, check) in contract.checks.iter().enumerate() {
        let filter = and_filters(contract.filter.as_ref(), check.filter.as_ref());
        let on_source = check
            .source
            .as_ref()
            .and_then(|s| Some((s, resolved.sources.get(s.index)?)));
        let source_filter = on_source.and_then(|(s, _)| {
            and_filters(contract.sources[s.index].filter.as_ref(), s.filter.as_ref())
        });
        let source_ctx = on_source.map(|(_, r)| NeedCtx {
            table: &r.table,
            column: None,
            filter: source_filter.as_ref(),
            reference_table: None,
            source: None,
        });
        let ctx = NeedCtx {
            table: &resolved.table,
            column: check.column.as_deref(),
            filter: filter.as_ref(),
            reference_table: resolved.reference_tables.get(&i),
            source: source_ctx.as_ref(),
        };
        let (mut needs, handles): (Needs, Handles) = check.kind.needs(&ctx);
        let mut source_needs = needs.source.take();
        let row_diff = needs.row_diff.take();
        if let Some(reason) = fit_to_columns(&mut needs, known_columns, d, &contract.dataset.text) {
            check_plans.push(CheckPlan::Skip(reason));
            continue;
        }
        if let (Some(sn), Some((s, r))) = (source_needs.as_deref_mut(), on_source) {
            let cols = source_columns.get(s.index).copied().flatten();
            if let Some(reason) = fit_to_columns(sn, cols, r.dialect(), &r.dataset) {
                check_plans.push(CheckPlan::Skip(reason));
                continue;
            }
        }
        let target_plan = target.add(&check.id, check.filter.as_ref(), needs);
        let source_plan = match (source_needs, on_source) {
            (Some(sn), Some((s, _))) => Some((
                s.index,
                sources[s.index].add(&check.id, s.filter.as_ref(), *sn),
            )),
            _ => None,
        };
        check_plans.push(CheckPlan::Run {
            handles,
            target: target_plan,
            source: source_plan,
            row_diff,
        });
    }

    let (queries, target_shift) = target.finish();
    let (source_queries, source_shifts): (Vec<_>, Vec<_>) =
        sources.into_iter().map(SidePlanner::finish).unzip();
    // own queries were numbered from 0; move them past the aggregate queries
    for plan in &mut check_plans {
        if let CheckPlan::Run { target, source, .. } = plan {
            target
                .own_queries
                .iter_mut()
                .for_each(|q| *q += target_shift);
            if let Some((i, s)) = source {
                let shift = source_shifts[*i];
                s.own_queries.iter_mut().for_each(|q| *q += shift);
            }
        }
    }
    DatasetPlan {
        queries,
        checks: check_plans,
        sources: source_queries,
    }
}

/// With the catalog's columns: names respelled as the catalog has them, and the reason
/// the check cannot run when a column it needs is absent.
fn fit_to_columns(
    needs: &mut Needs,
    columns: Option<&[ColumnInfo]>,
    d: &dyn Dialect,
    dataset: &str,
) -> Option<String> {
    let cols = columns?;
    respell(needs, cols, d);
    absent_columns(needs, cols, d, dataset)
}

/// Why a check cannot run: columns it needs that the catalog does not have.
fn absent_columns(
    needs: &Needs,
    cols: &[ColumnInfo],
    d: &dyn Dialect,
    dataset: &str,
) -> Option<String> {
    let absent: Vec<String> = needs
        .columns
        .iter()
        .filter(|c| !cols.iter().any(|k| d.same_ident(&k.name, c)))
        .map(|c| {
            // the catalog's closest name, for a typo (`amont` for amount)
            match crate::diag::did_you_mean(c, cols.iter().map(|k| k.name.as_str())) {
                Some(s) => format!("'{c}' (did you mean '{s}'?)"),
                None => format!("'{c}'"),
            }
        })
        .collect();
    (!absent.is_empty()).then(|| {
        format!(
            "column {} not found in dataset {dataset}",
            absent.join(", ")
        )
    })
}

fn own_query_sql(d: &dyn Dialect, q: OwnQuery) -> String {
    match q {
        OwnQuery::Select(s) => print_select(d, &s),
        OwnQuery::CountRowsOf(user) => d.count_rows_of(&user),
        OwnQuery::Value(user) => user.trim().trim_end_matches(';').to_string(),
    }
}

/// Write column names as the catalog spells them when the contract's spelling only
/// matches by the engine's case rules (a contract's `Amount` is Postgres's `amount`), and
/// compare exactly only where a column holds text.
fn respell(needs: &mut Needs, cols: &[ColumnInfo], d: &dyn Dialect) {
    for m in &mut needs.aggregates {
        fit_to_catalog(&mut m.expr, cols, d);
    }
    for s in needs.own_queries.iter_mut().filter_map(|q| match q {
        OwnQuery::Select(s) => Some(s),
        _ => None,
    }) {
        s.respell_columns(crate::checks::invalid::MAIN, &|n| {
            catalog_spelling(n, cols, d)
        });
    }
}

/// The catalog's spelling of a column when the contract's differs only by the engine's
/// case rules.
fn catalog_spelling(name: &str, cols: &[ColumnInfo], d: &dyn Dialect) -> Option<String> {
    if cols.iter().any(|c| c.name == name) {
        return None;
    }
    cols.iter()
        .find(|c| d.same_ident(&c.name, name))
        .map(|c| c.name.clone())
}

/// An expression as the catalog has it: names respelled, exact comparison only where
/// a column holds text.
pub fn fit_to_catalog(e: &mut Expr, cols: &[ColumnInfo], d: &dyn Dialect) {
    e.respell_columns(crate::checks::invalid::MAIN, &|n| {
        catalog_spelling(n, cols, d)
    });
    let is_text = |name: &str| {
        cols.iter()
            .find(|c| c.name == name)
            .is_none_or(|c| d.is_text_type(&c.data_type))
    };
    e.drop_needless_exact(&is_text);
}

/// When a shared aggregate query fails, this is the query with just one check's items
/// (plus COUNT(*) first), so the failure can be pinned on the checks that cause it.
pub fn split_query(d: &dyn Dialect, select: &Select, items: &[usize]) -> (String, Vec<usize>) {
    let mut chosen: Vec<usize> = vec![0];
    for i in items {
        if !chosen.contains(i) {
            chosen.push(*i);
        }
    }
    let sub = Select::new(
        chosen.iter().map(|i| select.items[*i].clone()).collect(),
        select.from.clone(),
        select.filter.clone(),
    );
    let positions = items
        .iter()
        .map(|i| chosen.iter().position(|c| c == i).unwrap_or(0))
        .collect();
    (print_select(d, &sub), positions)
}

/// The tables a run reads, each once, by data source in the order the datasets (and
/// then their reconciliation sources) name them. A run reads their columns with one
/// catalog statement per data source.
pub fn tables_by_source(resolved: &[Resolved]) -> Vec<(&DataSourceConfig, Vec<TableRef>)> {
    let mut sources: Vec<(&DataSourceConfig, Vec<TableRef>)> = Vec::new();
    let every = resolved.iter().map(|r| (&r.data_source, &r.table)).chain(
        resolved
            .iter()
            .flat_map(|r| r.sources.iter().map(|s| (&s.data_source, &s.table))),
    );
    for (ds, table) in every {
        let table = TableRef::new(table.parts.clone());
        match sources.iter_mut().find(|(s, _)| s.name == ds.name) {
            Some((_, tables)) if tables.contains(&table) => {}
            Some((_, tables)) => tables.push(table),
            None => sources.push((ds, vec![table])),
        }
    }
    sources
}
