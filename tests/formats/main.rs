//! Comparators end to end on real files made at test time (ELF, PE, Mach-O, zip, tar and its
//! compressions, ar, cpio, RPM) and property tests over mutated inputs. Needs tools, no engine.

#[path = "../common/mod.rs"]
mod common;

mod ar;
mod corrupt;
mod cpio;
mod engine_props;
mod object;
mod rpm;
mod tar;
mod zip;
