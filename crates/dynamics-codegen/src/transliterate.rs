//! ASCII spellings of Latin letters with diacritics, so a label such as `Café crème` names `CafeCreme`.
//!
//! The table covers the letters of Unicode's Latin-1 Supplement (U+00C0 to U+00FF) and Latin Extended-A
//! (U+0100 to U+017F) blocks. Other characters (other scripts, symbols) have no entry and are left to the
//! caller, which drops them as before.

/// The ASCII spelling of a Latin letter with a diacritic (`é` to `e`, `Ł` to `L`, `ß` to `ss`, `Æ` to `AE`),
/// in the letter's case; `None` for any other character, ASCII included.
pub(crate) fn ascii_spelling(c: char) -> Option<&'static str> {
    let spelling = match c {
        'À'..='Å' | 'Ā' | 'Ă' | 'Ą' => "A",
        'à'..='å' | 'ā' | 'ă' | 'ą' => "a",
        'Æ' => "AE",
        'æ' => "ae",
        'Ç' | 'Ć' | 'Ĉ' | 'Ċ' | 'Č' => "C",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'Ð' | 'Ď' | 'Đ' => "D",
        'ð' | 'ď' | 'đ' => "d",
        'È'..='Ë' | 'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' => "E",
        'è'..='ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => "G",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'Ĥ' | 'Ħ' => "H",
        'ĥ' | 'ħ' => "h",
        'Ì'..='Ï' | 'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' => "I",
        'ì'..='ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'Ĵ' => "J",
        'ĵ' => "j",
        'Ķ' => "K",
        'ķ' | 'ĸ' => "k",
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' | 'Ł' => "L",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'Ñ' | 'Ń' | 'Ņ' | 'Ň' | 'Ŋ' => "N",
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => "n",
        'Ò'..='Ö' | 'Ø' | 'Ō' | 'Ŏ' | 'Ő' => "O",
        'ò'..='ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'Œ' => "OE",
        'œ' => "oe",
        'Ŕ' | 'Ŗ' | 'Ř' => "R",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'Ś' | 'Ŝ' | 'Ş' | 'Š' => "S",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ſ' => "s",
        'ß' => "ss",
        'Ţ' | 'Ť' | 'Ŧ' => "T",
        'ţ' | 'ť' | 'ŧ' => "t",
        'Þ' => "TH",
        'þ' => "th",
        'Ù'..='Ü' | 'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' => "U",
        'ù'..='ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'Ŵ' => "W",
        'ŵ' => "w",
        'Ý' | 'Ŷ' | 'Ÿ' => "Y",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'Ź' | 'Ż' | 'Ž' => "Z",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    };
    Some(spelling)
}

#[cfg(test)]
mod tests {
    use super::ascii_spelling;

    fn spell(text: &str) -> String {
        text.chars().map(|c| ascii_spelling(c).map_or_else(|| c.to_string(), str::to_owned)).collect()
    }

    #[test]
    fn common_letters_lose_their_diacritics_and_keep_their_case() {
        assert_eq!(spell("Café crème"), "Cafe creme");
        assert_eq!(spell("Über Straße"), "Uber Strasse");
        assert_eq!(spell("Æble Øl Århus"), "AEble Ol Arhus");
        assert_eq!(spell("façade niño Łódź"), "facade nino Lodz");
        assert_eq!(spell("Œuvre þorn Ðóra ĳs"), "OEuvre thorn Dora ijs");
        assert_eq!(spell("Čeština Ţară Ĳssel ſ"), "Cestina Tara IJssel s");
    }

    #[test]
    fn every_letter_of_both_blocks_has_an_ascii_spelling_in_its_case() {
        let letters = ('\u{c0}'..='\u{17f}').filter(|c| !matches!(c, '×' | '÷'));
        for c in letters {
            let spelling = ascii_spelling(c).unwrap_or_else(|| panic!("{c} (U+{:04X}) has no spelling", u32::from(c)));
            assert!(spelling.bytes().all(|b| b.is_ascii_alphabetic()), "{c} spelled {spelling}");
            let first = spelling.chars().next().unwrap();
            if c.is_uppercase() {
                assert!(first.is_ascii_uppercase(), "{c} spelled {spelling}");
            } else if c.is_lowercase() {
                assert!(first.is_ascii_lowercase(), "{c} spelled {spelling}");
            }
        }
    }

    #[test]
    fn other_characters_have_no_spelling() {
        for c in ['a', 'Z', '7', ' ', '×', '÷', '¿', 'Ω', 'ж', '日', 'ƒ', '\u{180}'] {
            assert_eq!(ascii_spelling(c), None, "{c}");
        }
    }
}
