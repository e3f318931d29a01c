// Foreign key options the engines or the columns cannot honour, all reported at once.
#[derive(straddle::Model)]
#[straddle(
    table = "books",
    dialects(postgres, mysql),
    foreign_key(name = "books_a", on(author_id), references = "authors(id)", on_delete = "set null", mysql_unvalidated = true, phase = expand),
    foreign_key(name = "books_b", on(editor_id), references = "editors(id)", on_update = "explode", mysql_unvalidated = true, phase = expand),
    foreign_key(name = "books_c", on(editor_id), references = "editors(id)", on_delete = "set default", mysql_unvalidated = true, phase = expand),
    foreign_key(name = "books_d", on(editor_id), references = "editors(id)", initially_deferred, mysql_unvalidated = true, phase = expand)
)]
struct Book {
    #[straddle(primary_key)]
    id: i64,
    author_id: i64,
    editor_id: Option<i64>,
}

fn main() {}
