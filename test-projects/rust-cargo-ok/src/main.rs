fn main() {
    println!("hello from {}", file!());
    if std::env::args().count() > 1 {
        panic!("panics print the source path, which --remap-path-prefix keeps stable");
    }
}
