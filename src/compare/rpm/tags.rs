//! Names of the well-known RPM header tags (from rpm's `rpmtag.h`), and which ones hold times
//! or one value per file. A data table.

/// The name of a main-header tag, if it is one we know.
pub(super) fn header_name(tag: u32) -> Option<&'static str> {
    Some(match tag {
        100 => "HEADERI18NTABLE",
        1000 => "NAME",
        1001 => "VERSION",
        1002 => "RELEASE",
        1003 => "EPOCH",
        1004 => "SUMMARY",
        1005 => "DESCRIPTION",
        1006 => "BUILDTIME",
        1007 => "BUILDHOST",
        1009 => "SIZE",
        1010 => "DISTRIBUTION",
        1011 => "VENDOR",
        1014 => "LICENSE",
        1015 => "PACKAGER",
        1016 => "GROUP",
        1020 => "URL",
        1021 => "OS",
        1022 => "ARCH",
        1023 => "PREIN",
        1024 => "POSTIN",
        1025 => "PREUN",
        1026 => "POSTUN",
        1028 => "FILESIZES",
        1030 => "FILEMODES",
        1033 => "FILERDEVS",
        1034 => "FILEMTIMES",
        1035 => "FILEDIGESTS",
        1036 => "FILELINKTOS",
        1037 => "FILEFLAGS",
        1039 => "FILEUSERNAME",
        1040 => "FILEGROUPNAME",
        1044 => "SOURCERPM",
        1045 => "FILEVERIFYFLAGS",
        1046 => "ARCHIVESIZE",
        1047 => "PROVIDENAME",
        1048 => "REQUIREFLAGS",
        1049 => "REQUIRENAME",
        1050 => "REQUIREVERSION",
        1064 => "RPMVERSION",
        1080 => "CHANGELOGTIME",
        1081 => "CHANGELOGNAME",
        1082 => "CHANGELOGTEXT",
        1085 => "PREINPROG",
        1086 => "POSTINPROG",
        1094 => "COOKIE",
        1095 => "FILEDEVICES",
        1096 => "FILEINODES",
        1097 => "FILELANGS",
        1112 => "PROVIDEFLAGS",
        1113 => "PROVIDEVERSION",
        1116 => "DIRINDEXES",
        1117 => "BASENAMES",
        1118 => "DIRNAMES",
        1124 => "PAYLOADFORMAT",
        1125 => "PAYLOADCOMPRESSOR",
        1126 => "PAYLOADFLAGS",
        1131 => "OPTFLAGS",
        1132 => "PLATFORM",
        1140 => "FILECOLORS",
        1141 => "FILECLASS",
        1142 => "CLASSDICT",
        1143 => "FILEDEPENDSX",
        1144 => "FILEDEPENDSN",
        1145 => "DEPENDSDICT",
        1146 => "SOURCEPKGID",
        5008 => "LONGFILESIZES",
        5009 => "LONGSIZE",
        5011 => "FILEDIGESTALGO",
        5062 => "ENCODING",
        5092 => "PAYLOADDIGEST",
        5093 => "PAYLOADDIGESTALGO",
        5097 => "PAYLOADDIGESTALT",
        _ => return None,
    })
}

/// The name of a signature-header tag, if it is one we know (their numbers overlap the main
/// header's).
pub(super) fn signature_name(tag: u32) -> Option<&'static str> {
    Some(match tag {
        267 => "DSA",
        268 => "RSA",
        269 => "SHA1",
        270 => "LONGSIZE",
        271 => "LONGARCHIVESIZE",
        273 => "SHA256",
        1000 => "SIZE",
        1002 => "PGP",
        1004 => "MD5",
        1005 => "GPG",
        1007 => "PAYLOADSIZE",
        1008 => "RESERVEDSPACE",
        _ => return None,
    })
}

/// Main-header tags holding seconds since the epoch.
pub(super) fn is_time(tag: u32) -> bool {
    matches!(tag, 1006 | 1034 | 1080)
}

/// Main-header tags holding one value per file (in the order of the file names).
pub(super) fn is_per_file(tag: u32) -> bool {
    matches!(
        tag,
        1028 | 1030
            | 1033
            | 1034
            | 1035
            | 1036
            | 1037
            | 1039
            | 1040
            | 1045
            | 1095
            | 1096
            | 1097
            | 1140
            | 1141
            | 1143
            | 1144
            | 5008
    )
}

/// Region tags: where the header's signed region ends, which moves with any change of size.
pub(super) fn is_region(tag: u32) -> bool {
    matches!(tag, 61..=63)
}
