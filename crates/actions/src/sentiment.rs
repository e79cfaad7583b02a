//! ANALYZE_SENTIMENT: an offline, lexicon-based sentiment scorer in the
//! style of VADER (Hutto & Gilbert, 2014), tuned for short social-media text.
//!
//! Each word found in an embedded lexicon contributes a valence (-4..4).
//! Valences are adjusted by:
//! - intensifiers and dampeners ("very", "extremely", "slightly") in the
//!   three words before, with decaying effect;
//! - negations ("not", "never", "-n't") in the three words before, each
//!   flipping and damping the valence (× -0.74);
//! - ALL-CAPS words when the text is not entirely in capitals (+0.733);
//! - "but": the clause before weighs half, the clause after one and a half;
//! - exclamation marks (up to four) and repeated question marks, adding
//!   emphasis in the direction of the total.
//!
//! Emoji and emoticons (":)", ":(", "❤️", "😡") are scored like words. The
//! sum `s` is normalized to `s / sqrt(s² + 15)`, in [-1, 1]. The text never
//! leaves the worker.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::action::{Action, ActionContext, ActionError, LogLevel, Outcome};
use crate::spec::{ActionSpec, Category, schema_of};

/// Longest text analyzed (100 KiB); longer input is cut at a character
/// boundary and a warning is logged.
pub const MAX_TEXT_BYTES: usize = 100 * 1024;

/// Scores at or above this are positive (at or below its negation, negative).
pub const LABEL_THRESHOLD: f64 = 0.05;

const NORMALIZE_ALPHA: f64 = 15.0;
const BOOST: f64 = 0.293;
const CAPS_BOOST: f64 = 0.733;
const NEGATION_SCALAR: f64 = -0.74;
const EXCLAMATION_BOOST: f64 = 0.292;

/// Sentiment label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Score >= 0.05.
    Positive,
    /// Score <= -0.05.
    Negative,
    /// In between.
    Neutral,
}

impl Label {
    /// The label of a normalized score.
    pub fn of(score: f64) -> Self {
        if score >= LABEL_THRESHOLD {
            Self::Positive
        } else if score <= -LABEL_THRESHOLD {
            Self::Negative
        } else {
            Self::Neutral
        }
    }

    /// Stable name: `positive`, `negative`, `neutral`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Positive => "positive",
            Self::Negative => "negative",
            Self::Neutral => "neutral",
        }
    }
}

/// The result of [`analyze`]; serializes to the action's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sentiment {
    /// Overall score in [-1, 1], rounded to 4 decimals.
    pub score: f64,
    /// Label derived from the score.
    pub label: Label,
    /// Number of words and symbols that counted positively.
    pub positive: usize,
    /// Number of words and symbols that counted negatively.
    pub negative: usize,
}

/// Word valences, -4 (most negative) to 4 (most positive).
#[rustfmt::skip]
const LEXICON: &[(&str, f64)] = &[
    // positive
    ("love", 3.2), ("loved", 2.9), ("loves", 2.7), ("loving", 2.9), ("lovely", 2.8),
    ("adore", 2.6), ("adorable", 2.2), ("like", 1.5), ("liked", 1.8), ("likes", 1.8),
    ("awesome", 3.1), ("amazing", 2.8), ("amazed", 2.2), ("great", 3.1), ("greatest", 3.2),
    ("good", 1.9), ("nice", 1.8), ("excellent", 2.7), ("fantastic", 2.6),
    ("wonderful", 2.7), ("perfect", 2.7), ("perfectly", 2.6), ("best", 3.2), ("better", 1.9),
    ("happy", 2.7), ("happier", 2.4), ("happiness", 2.6), ("glad", 2.0), ("thanks", 1.9),
    ("thank", 1.5), ("thx", 1.5), ("ty", 1.2), ("thankful", 2.7), ("grateful", 2.0),
    ("appreciate", 1.7), ("appreciated", 2.3), ("helpful", 1.8), ("helped", 1.4),
    ("beautiful", 2.9), ("brilliant", 2.8), ("cool", 1.3), ("fun", 2.3), ("enjoy", 2.2),
    ("enjoyed", 2.3), ("enjoying", 2.4), ("impressive", 2.3), ("impressed", 2.1),
    ("incredible", 2.5), ("fast", 1.0), ("faster", 1.3), ("quick", 1.0), ("quickly", 0.8),
    ("smooth", 1.5), ("smoothly", 1.4), ("easy", 1.9), ("easier", 1.8), ("reliable", 1.9),
    ("recommend", 1.5), ("recommended", 1.7), ("win", 2.8), ("wins", 2.7), ("won", 2.7),
    ("winning", 2.4), ("winner", 2.8), ("success", 2.7), ("successful", 2.8),
    ("fixed", 1.0), ("solved", 1.3), ("resolved", 0.7), ("yay", 2.4), ("wow", 2.8),
    ("woohoo", 2.3), ("lol", 1.8), ("haha", 2.0), ("hahaha", 2.6), ("lmao", 2.0),
    ("kudos", 2.3), ("congrats", 2.4), ("congratulations", 2.9), ("cheers", 2.1),
    ("favorite", 2.0), ("favourite", 2.0), ("delighted", 3.1), ("delight", 2.9),
    ("delightful", 2.9), ("pleased", 1.9), ("satisfied", 1.8), ("superb", 3.1),
    ("outstanding", 3.0), ("phenomenal", 2.5), ("stable", 1.2), ("secure", 1.4),
    ("safe", 1.9), ("friendly", 2.2), ("responsive", 1.5), ("polite", 1.8),
    ("clean", 1.7), ("elegant", 2.1), ("intuitive", 1.8), ("useful", 1.9),
    ("valuable", 2.1), ("worth", 0.9), ("worthy", 1.9), ("genius", 1.9), ("joy", 2.8),
    ("joyful", 2.9), ("excited", 1.4), ("exciting", 2.2), ("hope", 1.9), ("hopeful", 1.9),
    ("optimistic", 1.3), ("proud", 2.1), ("relief", 1.1), ("relieved", 1.6), ("calm", 1.3),
    ("peaceful", 2.2), ("free", 1.2), ("gift", 1.9), ("generous", 2.3), ("honest", 2.3),
    ("trust", 2.3), ("trusted", 2.1), ("fair", 1.3), ("positive", 2.6), ("benefit", 2.0),
    ("improve", 1.9), ("improved", 2.1), ("improvement", 2.0), ("improvements", 2.0),
    ("champion", 2.9), ("stellar", 2.8), ("sweet", 2.0), ("cute", 2.0), ("lucky", 1.8),
    ("fabulous", 2.4), ("terrific", 2.1), ("marvelous", 2.9), ("splendid", 2.8),
    ("ok", 1.2), ("okay", 0.9), ("fine", 0.8), ("yes", 1.7), ("welcome", 2.0),
    ("smile", 1.5), ("smiling", 2.0), ("laugh", 2.6), ("laughing", 2.2), ("hug", 2.1),
    ("hugs", 2.2), ("blessed", 2.9), ("bless", 1.8), ("praise", 2.6), ("legend", 1.7),
    ("legendary", 2.2), ("rocks", 1.3), ("wholesome", 1.9), ("lifesaver", 2.5),
    ("seamless", 1.8), ("seamlessly", 1.8), ("flawless", 2.5), ("flawlessly", 2.5),
    ("effortless", 1.6), ("gorgeous", 3.0), ("stunning", 2.4), ("magnificent", 3.0),
    ("remarkable", 2.0), ("admire", 2.1), ("glorious", 2.7), ("love-it", 3.0),
    ("recommendable", 1.6), ("supportive", 2.1), ("pleasant", 2.3), ("comfortable", 1.5),
    ("convenient", 1.6), ("accurate", 1.5), ("efficient", 1.8), ("powerful", 1.8),
    ("innovative", 1.8), ("fresh", 1.3), ("neat", 2.0), ("handy", 1.4), ("polished", 1.5),
    ("works", 0.5), ("working", 0.3), ("well-done", 2.5), ("bravo", 2.6), ("epic", 1.9), ("dope", 1.5), ("fire", 0.5), ("goat", 1.0),
    // negative
    ("hate", -2.7), ("hated", -3.2), ("hates", -1.9), ("hating", -2.3), ("hateful", -2.2),
    ("terrible", -2.5), ("terribly", -2.1), ("horrible", -2.5), ("horribly", -2.4),
    ("awful", -2.0), ("awfully", -1.7), ("bad", -2.5), ("badly", -2.1), ("worse", -2.1),
    ("worst", -3.1), ("poor", -2.1), ("poorly", -1.8), ("sucks", -1.5), ("suck", -1.9),
    ("sucked", -2.0), ("sucky", -1.8), ("crap", -1.6), ("crappy", -2.5), ("garbage", -1.8),
    ("trash", -1.6), ("trashy", -1.8), ("rubbish", -1.4), ("useless", -1.8),
    ("broken", -1.8), ("broke", -1.6), ("breaks", -1.0), ("bug", -1.3), ("bugs", -1.3),
    ("buggy", -1.8), ("crash", -1.7), ("crashed", -1.8), ("crashes", -1.8),
    ("crashing", -1.9), ("glitch", -1.3), ("glitches", -1.3), ("glitchy", -1.6),
    ("lag", -1.0), ("lags", -1.1), ("laggy", -1.6), ("freezes", -1.3), ("froze", -1.2),
    ("freezing", -1.0), ("frozen", -0.9), ("error", -1.4), ("errors", -1.3),
    ("fail", -2.5), ("failed", -2.3), ("fails", -2.2), ("failing", -2.3),
    ("failure", -2.3), ("scam", -2.7), ("scammed", -2.8), ("scammer", -2.5),
    ("scammers", -2.6), ("fraud", -2.8), ("fraudulent", -2.8), ("steal", -2.2),
    ("stole", -2.2), ("stolen", -2.2), ("theft", -2.5), ("rip-off", -2.0),
    ("ripoff", -2.0), ("refund", -0.7), ("refunds", -0.7), ("slow", -1.0),
    ("slower", -1.3), ("slowly", -0.6), ("sluggish", -1.3), ("annoying", -1.7),
    ("annoyed", -1.6), ("annoys", -1.4), ("irritating", -1.7), ("frustrating", -1.9),
    ("frustrated", -1.9), ("frustration", -2.1), ("angry", -2.3), ("anger", -2.7),
    ("mad", -2.2), ("furious", -2.7), ("rage", -2.6), ("disappointed", -1.9),
    ("disappointing", -2.2), ("disappointment", -2.3), ("sad", -2.1), ("unhappy", -1.8),
    ("upset", -1.6), ("disgusting", -2.4), ("disgusted", -2.4), ("gross", -2.1),
    ("nasty", -2.6), ("ugly", -2.3), ("stupid", -2.4), ("dumb", -2.3), ("idiot", -2.3),
    ("idiots", -2.6), ("pathetic", -2.3), ("ridiculous", -1.5), ("absurd", -1.4),
    ("worthless", -1.9), ("waste", -1.8), ("wasted", -2.2), ("wasting", -1.7),
    ("lost", -1.3), ("lose", -1.7), ("losing", -1.6), ("loser", -2.4), ("missing", -1.2),
    ("problem", -1.7), ("problems", -1.7), ("issue", -0.7), ("issues", -0.7),
    ("trouble", -1.7), ("complaint", -1.5), ("complain", -1.5), ("complaints", -1.7),
    ("unacceptable", -2.0), ("rude", -2.0), ("unfair", -2.1), ("unreliable", -1.8),
    ("unstable", -1.4), ("unusable", -2.2), ("unresponsive", -1.5), ("outage", -1.8),
    ("outages", -1.8), ("downtime", -1.4), ("unavailable", -1.0), ("delay", -1.3),
    ("delayed", -0.9), ("delays", -1.3), ("wrong", -2.1), ("mistake", -1.4),
    ("mistakes", -1.5), ("confusing", -1.3), ("confused", -1.3), ("difficult", -1.5),
    ("painful", -1.9), ("pain", -2.3), ("hurt", -2.4), ("hurts", -2.1), ("sorry", -0.3),
    ("ugh", -1.8), ("meh", -0.4), ("boring", -1.3), ("bored", -1.1), ("fear", -2.2),
    ("afraid", -2.2), ("scared", -1.9), ("worried", -1.2), ("worry", -1.9),
    ("danger", -2.4), ("dangerous", -2.1), ("risk", -1.1), ("insecure", -1.8),
    ("hacked", -1.7), ("breach", -1.5), ("leak", -1.4), ("leaked", -1.6), ("spam", -1.5),
    ("spammy", -1.5), ("fake", -2.1), ("liar", -3.1), ("liars", -3.1), ("lie", -1.6),
    ("lies", -1.8), ("lying", -2.4), ("cheat", -2.0), ("cheated", -2.3), ("kill", -3.7),
    ("killed", -3.5), ("kills", -2.5), ("die", -2.9), ("dead", -3.3), ("death", -2.9),
    ("dreadful", -2.7), ("miserable", -2.2), ("misery", -2.7), ("shame", -2.1),
    ("shameful", -2.2), ("embarrassing", -1.6), ("embarrassed", -1.5), ("regret", -1.8),
    ("regrets", -1.5), ("uninstall", -1.0), ("uninstalled", -1.0), ("uninstalling", -1.0),
    ("damn", -1.7), ("hell", -2.2), ("wtf", -2.8), ("shit", -2.6), ("shitty", -2.8),
    ("fuck", -2.5), ("disaster", -3.1), ("disastrous", -2.9), ("catastrophe", -3.4),
    ("nightmare", -2.5), ("mess", -1.5), ("messy", -1.5), ("chaos", -2.0),
    ("horrendous", -2.8), ("atrocious", -2.8), ("abysmal", -2.8), ("lousy", -2.5),
    ("mediocre", -0.3), ("inferior", -1.7), ("overpriced", -1.6), ("expensive", -0.9),
    ("bloated", -1.3), ("clunky", -1.2), ("outdated", -1.2), ("obsolete", -1.2),
    ("ignored", -1.4), ("ignoring", -1.4), ("unanswered", -1.2), ("banned", -2.0),
    ("ban", -2.6), ("threat", -2.4), ("attack", -2.1), ("abuse", -3.2), ("abusive", -3.2),
    ("harassment", -2.5), ("toxic", -2.4), ("hostile", -2.2), ("scary", -2.2),
    ("terrified", -3.0), ("cry", -2.1), ("crying", -2.1), ("sick", -2.3), ("tired", -1.9),
    ("exhausted", -1.5), ("stress", -1.8), ("stressed", -1.4), ("stressful", -2.3),
    ("hopeless", -2.0), ("helpless", -2.0), ("lonely", -1.5), ("bitter", -1.8),
    ("jealous", -2.0), ("guilty", -1.8), ("blame", -1.4), ("blamed", -2.1),
    ("refused", -1.2), ("reject", -1.7), ("rejected", -2.3), ("denied", -1.9),
    ("impossible", -1.5), ("weak", -1.9), ("sadly", -1.9), ("unfortunately", -1.8),
    ("unfortunate", -2.0), ("fault", -1.7), ("faulty", -1.8), ("defective", -1.9),
    ("damaged", -2.2), ("damage", -2.2), ("corrupt", -3.0), ("corrupted", -2.4),
    ("disconnected", -1.0), ("disconnects", -1.2), ("cringe", -1.6), ("yikes", -1.5),
    ("smh", -1.3), ("fml", -3.0), ("ffs", -2.0), ("lame", -1.8), ("greedy", -1.3),
    ("incompetent", -2.3), ("incompetence", -2.3), ("nonsense", -1.7), ("bogus", -1.8),
    ("junk", -1.8), ("horror", -2.7), ("awkward", -1.0), ("cancel", -0.8),
    ("cancelled", -0.6), ("canceled", -0.6), ("unsubscribe", -0.8), ("overcharged", -2.0),
    ("unprofessional", -2.0), ("ruined", -2.4), ("ruin", -2.5),
    ("hostage", -2.5), ("hideous", -2.8), ("infuriating", -2.8), ("infuriated", -2.7),
    ("outraged", -2.6), ("outrageous", -2.0),
];

/// Words that strengthen (positive) or soften (negative) the sentiment word
/// after them.
#[rustfmt::skip]
const BOOSTERS: &[(&str, f64)] = &[
    ("absolutely", BOOST), ("amazingly", BOOST), ("completely", BOOST),
    ("considerably", BOOST), ("deeply", BOOST), ("enormously", BOOST), ("entirely", BOOST),
    ("especially", BOOST), ("exceptionally", BOOST), ("extremely", BOOST),
    ("fabulously", BOOST), ("freaking", BOOST), ("frickin", BOOST), ("fucking", BOOST),
    ("fully", BOOST), ("greatly", BOOST), ("highly", BOOST), ("hugely", BOOST),
    ("incredibly", BOOST), ("insanely", BOOST), ("intensely", BOOST), ("majorly", BOOST),
    ("more", BOOST), ("most", BOOST), ("particularly", BOOST), ("pretty", BOOST),
    ("purely", BOOST), ("quite", BOOST), ("really", BOOST), ("remarkably", BOOST),
    ("seriously", BOOST), ("so", BOOST), ("soo", BOOST), ("sooo", BOOST),
    ("substantially", BOOST), ("super", BOOST), ("thoroughly", BOOST), ("too", BOOST),
    ("totally", BOOST), ("tremendously", BOOST), ("truly", BOOST), ("uber", BOOST),
    ("unbelievably", BOOST), ("unusually", BOOST), ("utterly", BOOST), ("very", BOOST),
    ("almost", -BOOST), ("barely", -BOOST), ("hardly", -BOOST), ("kinda", -BOOST),
    ("less", -BOOST), ("little", -BOOST), ("marginally", -BOOST), ("occasionally", -BOOST),
    ("partly", -BOOST), ("scarcely", -BOOST), ("slightly", -BOOST), ("somewhat", -BOOST),
    ("sorta", -BOOST),
];

/// Words that negate the sentiment word within three words after them.
#[rustfmt::skip]
const NEGATIONS: &[&str] = &[
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "nowhere",
    "cannot", "without", "aint", "isnt", "arent", "wasnt", "werent", "dont", "doesnt",
    "didnt", "cant", "couldnt", "wont", "wouldnt", "shouldnt", "hasnt", "havent",
    "hadnt", "mustnt", "neednt", "darent", "mightnt", "shant", "nope", "nah",
];

/// Words after which "like" is a comparison, not a liking.
#[rustfmt::skip]
const LIKE_AS_COMPARISON: &[&str] = &[
    "look", "looks", "looked", "looking", "feel", "feels", "felt", "feeling", "seem",
    "seems", "seemed", "sound", "sounds", "sounded", "just", "is", "was", "are", "were",
    "be", "been", "more", "less", "something", "anything", "nothing", "things", "stuff",
    "act", "acts", "acting", "exactly", "much",
];

/// Emoji (matched per character, variation selectors ignored).
#[rustfmt::skip]
const EMOJI: &[(char, f64)] = &[
    ('❤', 3.0), ('♥', 2.8), ('💕', 3.0), ('💖', 3.0), ('💗', 2.8), ('💙', 2.6), ('💚', 2.6),
    ('💛', 2.6), ('💜', 2.6), ('😍', 3.0), ('🥰', 3.0), ('😘', 2.6), ('😀', 2.0), ('😃', 2.2),
    ('😄', 2.2), ('😁', 2.2), ('😊', 2.2), ('🙂', 1.2), ('😉', 1.5), ('😎', 1.8), ('🤩', 2.8),
    ('🥳', 2.6), ('🎉', 2.5), ('👍', 2.0), ('👏', 2.0), ('🙌', 2.2), ('💯', 2.0), ('🔥', 1.5),
    ('✨', 1.0), ('⭐', 1.5), ('🌟', 1.8), ('🙏', 1.5), ('😂', 1.5), ('🤣', 1.5), ('😆', 1.8),
    ('✅', 1.0), ('🚀', 1.5), ('👌', 1.8),
    ('😡', -3.0), ('😠', -2.5), ('🤬', -3.5), ('👎', -2.0), ('😢', -2.0), ('😭', -2.5),
    ('😞', -2.0), ('😔', -1.8), ('😟', -1.7), ('☹', -2.0), ('🙁', -1.5), ('💔', -2.5),
    ('💩', -2.0), ('😤', -1.5), ('🤮', -3.0), ('🤢', -2.5), ('😒', -1.5), ('😩', -2.0),
    ('😫', -2.0), ('😖', -2.0), ('😣', -1.7), ('😱', -1.8), ('😨', -2.0), ('😰', -1.8),
    ('🙄', -1.5), ('😑', -0.8), ('😐', -0.3), ('🤦', -1.8), ('❌', -1.2), ('⚠', -0.8),
    ('🐌', -1.0),
];

/// Emoticons (matched as whole whitespace-separated tokens).
#[rustfmt::skip]
const EMOTICONS: &[(&str, f64)] = &[
    (":)", 2.0), (":-)", 2.0), ("(:", 2.0), ("=)", 2.0), (":]", 1.8), (":))", 2.5),
    (":d", 2.5), (":-d", 2.5), ("=d", 2.5), ("xd", 2.0), (";)", 1.5), (";-)", 1.5),
    (":p", 1.2), (":-p", 1.2), ("<3", 3.0), ("^_^", 2.0), ("^^", 1.5), (":*", 2.0),
    (":(", -2.0), (":-(", -2.0), ("):", -2.0), ("=(", -2.0), (":[", -1.8), (":((", -2.5),
    (":'(", -2.5), (":,(", -2.5), ("</3", -2.5), (":/", -1.0), (":-/", -1.0),
    (":\\", -1.0), (":|", -0.5), (":-|", -0.5), (">:(", -3.0), ("d:", -2.0), (":@", -2.5),
    ("-_-", -1.0), ("t_t", -2.0), (";(", -2.0),
];

struct Tables {
    lexicon: HashMap<&'static str, f64>,
    boosters: HashMap<&'static str, f64>,
    emoji: HashMap<char, f64>,
    emoticons: HashMap<&'static str, f64>,
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| Tables {
        lexicon: LEXICON.iter().copied().collect(),
        boosters: BOOSTERS.iter().copied().collect(),
        emoji: EMOJI.iter().copied().collect(),
        emoticons: EMOTICONS.iter().copied().collect(),
    })
}

#[derive(Debug, Clone, Default)]
struct Token {
    /// Lower-cased word (or the emoticon / emoji text).
    word: String,
    /// Valence fixed by the token itself (emoji, emoticons).
    symbol: Option<f64>,
    /// Written in capitals (two letters or more, all upper case).
    caps: bool,
    /// Punctuation after this token ends a clause (negation and boosters
    /// do not reach across it).
    clause_end: bool,
    /// Punctuation after this token ends a sentence ("but" works within a
    /// sentence).
    sentence_end: bool,
}

fn is_emoji_modifier(c: char) -> bool {
    matches!(c, '\u{FE0E}' | '\u{FE0F}' | '\u{200D}' | '\u{20E3}') || ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
}

fn push_word(tokens: &mut Vec<Token>, raw: &str) {
    let raw = raw.replace(['\u{2019}', '\u{2018}', '`'], "'");
    let trimmed_start = raw.trim_start_matches(|c: char| !c.is_alphanumeric());
    let core = trimmed_start.trim_end_matches(|c: char| !c.is_alphanumeric());
    let trailing = &trimmed_start[core.len()..];
    let clause_end = trailing.contains([',', '.', ';', ':', '!', '?', ')']) || trailing.contains('—');
    let sentence_end = trailing.contains(['.', '!', '?']);
    if core.is_empty() {
        if let Some(last) = tokens.last_mut() {
            last.clause_end |= clause_end;
            last.sentence_end |= sentence_end;
        }
        return;
    }
    let letters: Vec<char> = core.chars().filter(|c| c.is_alphabetic()).collect();
    let caps = letters.len() >= 2 && letters.iter().all(|c| c.is_uppercase());
    tokens.push(Token {
        word: core.to_lowercase(),
        symbol: None,
        caps,
        clause_end,
        sentence_end,
    });
}

fn tokenize(text: &str) -> Vec<Token> {
    let t = tables();
    let mut tokens = Vec::new();
    for chunk in text.split_whitespace() {
        let lower = chunk.to_lowercase();
        if let Some(&v) = t.emoticons.get(lower.as_str()) {
            tokens.push(Token {
                word: lower,
                symbol: Some(v),
                ..Token::default()
            });
            continue;
        }
        // Split emoji off the words around them ("love❤️", "❤️❤️").
        let mut start = 0;
        for (i, c) in chunk.char_indices() {
            if let Some(&v) = t.emoji.get(&c) {
                if start < i {
                    push_word(&mut tokens, &chunk[start..i]);
                }
                tokens.push(Token {
                    word: c.to_string(),
                    symbol: Some(v),
                    ..Token::default()
                });
                start = i + c.len_utf8();
            } else if is_emoji_modifier(c) && start == i {
                start = i + c.len_utf8();
            }
        }
        if start < chunk.len() {
            push_word(&mut tokens, &chunk[start..]);
        }
    }
    tokens
}

fn is_negation(word: &str) -> bool {
    NEGATIONS.contains(&word) || word.ends_with("n't")
}

/// The valence of a word, trying a few inflections ("bugs", "crashed",
/// "hating") when the word itself is not in the lexicon.
fn valence_of(word: &str) -> Option<f64> {
    let lex = &tables().lexicon;
    if let Some(&v) = lex.get(word) {
        return Some(v);
    }
    if word.chars().count() < 4 || !word.is_ascii() {
        return None;
    }
    let mut candidates: Vec<String> = Vec::new();
    for suffix in ["s", "es", "ed", "d", "ing"] {
        if let Some(stem) = word.strip_suffix(suffix) {
            candidates.push(stem.to_owned());
            if suffix == "ing" {
                candidates.push(format!("{stem}e"));
            }
        }
    }
    candidates
        .iter()
        .filter(|s| s.len() >= 3)
        .find_map(|s| lex.get(s.as_str()).copied())
}

/// Scores `text`. Never fails; an empty text is neutral with score 0.
pub fn analyze(text: &str) -> Sentiment {
    let t = tables();
    let tokens = tokenize(text);
    let word_tokens: Vec<&Token> = tokens
        .iter()
        .filter(|tok| tok.symbol.is_none() && tok.word.chars().any(char::is_alphabetic))
        .collect();
    let caps_count = word_tokens.iter().filter(|tok| tok.caps).count();
    let caps_differential = caps_count > 0 && caps_count < word_tokens.len();

    let mut valences = vec![0.0_f64; tokens.len()];
    for (i, tok) in tokens.iter().enumerate() {
        // "kind of" / "sort of" soften; they carry no valence themselves.
        if matches!(tok.word.as_str(), "kind" | "sort") && tokens.get(i + 1).is_some_and(|n| n.word == "of") {
            continue;
        }
        if t.boosters.contains_key(tok.word.as_str()) {
            continue;
        }
        // "like" as a comparison ("looks like a bug") carries no sentiment.
        if tok.word == "like" && i > 0 && LIKE_AS_COMPARISON.contains(&tokens[i - 1].word.as_str()) {
            continue;
        }
        let base = match tok.symbol {
            Some(v) => v,
            None => match valence_of(&tok.word) {
                Some(v) => v,
                None => continue,
            },
        };
        let mut v = base;
        if tok.caps && caps_differential {
            v += CAPS_BOOST * v.signum();
        }
        // Look back up to three words within the clause.
        let mut negations = 0;
        for distance in 1..=3 {
            let Some(j) = i.checked_sub(distance) else {
                break;
            };
            let prev = &tokens[j];
            if prev.clause_end {
                break;
            }
            let mut scalar = t.boosters.get(prev.word.as_str()).copied().unwrap_or(0.0);
            if (prev.word == "of") && j > 0 && matches!(tokens[j - 1].word.as_str(), "kind" | "sort") {
                scalar = -BOOST;
            }
            if scalar != 0.0 {
                if prev.caps && caps_differential {
                    scalar += CAPS_BOOST * scalar.signum();
                }
                let decay = [1.0, 0.95, 0.9][distance - 1];
                v += scalar * decay * base.signum();
            }
            if is_negation(&prev.word) {
                negations += 1;
            }
        }
        for _ in 0..negations {
            v *= NEGATION_SCALAR;
        }
        valences[i] = v;
    }

    // "but": within each sentence, the part before its first "but" weighs
    // half and the part after it one and a half.
    let mut start = 0;
    while start < tokens.len() {
        let end = tokens[start..]
            .iter()
            .position(|tok| tok.sentence_end)
            .map_or(tokens.len(), |p| start + p + 1);
        if let Some(b) = tokens[start..end].iter().position(|tok| tok.word == "but") {
            let b = start + b;
            valences[start..b].iter_mut().for_each(|v| *v *= 0.5);
            valences[b + 1..end].iter_mut().for_each(|v| *v *= 1.5);
        }
        start = end;
    }

    let mut sum: f64 = valences.iter().sum();
    if sum != 0.0 {
        let bangs = text.matches('!').count().min(4);
        let questions = text.matches('?').count();
        let question_emphasis = match questions {
            0 | 1 => 0.0,
            2 | 3 => questions as f64 * 0.18,
            _ => 0.96,
        };
        sum += (bangs as f64 * EXCLAMATION_BOOST + question_emphasis) * sum.signum();
    }
    let raw = sum / (sum * sum + NORMALIZE_ALPHA).sqrt();
    let score = ((raw * 10_000.0).round() / 10_000.0).clamp(-1.0, 1.0);
    let score = if score == 0.0 { 0.0 } else { score }; // no "-0"
    Sentiment {
        score,
        label: Label::of(score),
        positive: valences.iter().filter(|v| **v > 0.0).count(),
        negative: valences.iter().filter(|v| **v < 0.0).count(),
    }
}

/// Who scores the text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SentimentProvider {
    /// The offline lexicon scorer, on the worker (default).
    #[default]
    Builtin,
    /// The workspace's `llm` connection (GENERATE_CONTENT's providers).
    Llm,
}

/// ANALYZE_SENTIMENT config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeSentimentConfig {
    /// The text to score (at most 100 KiB are analyzed).
    pub text: String,
    /// `builtin` (default: offline, inline) or `llm` (the workspace's
    /// language model; the step then goes through the queue).
    #[serde(default)]
    pub provider: SentimentProvider,
    /// With `provider: llm`, the `llm` connection to use. Default: the
    /// workspace's default one.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub connection: Option<String>,
}

/// The ANALYZE_SENTIMENT action.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnalyzeSentiment;

/// `text` cut to at most `max` bytes at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[async_trait::async_trait]
impl Action for AnalyzeSentiment {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        if ctx.cancel.is_cancelled() {
            return Err(ActionError::Cancelled);
        }
        let cfg: AnalyzeSentimentConfig = serde_json::from_value(ctx.config)
            .map_err(|e| ActionError::fatal(format!("invalid ANALYZE_SENTIMENT config: {e}")))?;
        let text = truncate(&cfg.text, MAX_TEXT_BYTES);
        if text.len() < cfg.text.len() {
            ctx.logger.log(
                LogLevel::Warn,
                &format!(
                    "ANALYZE_SENTIMENT: the text is {} bytes; only the first {} are analyzed",
                    cfg.text.len(),
                    text.len()
                ),
                None,
            );
        }
        let result = analyze(text);
        let output = serde_json::to_value(&result)
            .map_err(|e| ActionError::fatal(format!("ANALYZE_SENTIMENT: cannot encode the result: {e}")))?;
        Ok(Outcome::Completed(output))
    }
}

pub(crate) fn action(p: &crate::net::HttpPolicy) -> (ActionSpec, Arc<dyn Action>) {
    (
        ActionSpec {
            name: "ANALYZE_SENTIMENT",
            description: "Score the sentiment of a text: offline by default (lexicon-based, VADER-style: negation, intensifiers, \"but\", emphasis, emoji), or with the workspace's language model (`provider: llm`).",
            category: Category::Ai,
            config_schema: schema_of::<AnalyzeSentimentConfig>(),
            example: json!({"text": "{{ input.text }}"}),
            required_permissions: &["ai:analyze"],
            output: "{ score: -1..1 (4 decimals), label: \"positive\" (score >= 0.05) | \"negative\" (<= -0.05) | \"neutral\", positive: count, negative: count } offline; { score, label, provider: llm, model, usage } with provider: llm",
            security: "Offline (the default) it runs inside the worker and the text is not sent anywhere. With `provider: llm` the text goes to the workspace's language-model provider, as GENERATE_CONTENT's prompt does. At most 100 KiB of text is analyzed (a warning is logged when the input is cut).",
            block: false,
            implemented: true,
            connection: Some(crate::spec::ConnectionUse {
                kind_of: Some(crate::sentiment_model::model_kind),
                ..crate::spec::ConnectionUse::of("llm")
            }),
        },
        Arc::new(crate::sentiment_model::AnalyzeSentimentAction::new(p)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn score(text: &str) -> f64 {
        analyze(text).score
    }

    #[test]
    fn clearly_positive() {
        for text in [
            "I love this app, it is awesome!",
            "Thanks for the fast fix, great support :)",
            "Best update ever ❤️",
            "The new release is excellent and works smoothly",
        ] {
            let s = analyze(text);
            assert_eq!(s.label, Label::Positive, "{text}: {s:?}");
            assert!(s.score > 0.5, "{text}: {s:?}");
            assert!(s.positive > 0, "{text}: {s:?}");
        }
    }

    #[test]
    fn clearly_negative() {
        for text in [
            "I hate this, worst app ever",
            "This is a scam, I want a refund",
            "The app is broken and slow, so many bugs 😡",
            "Terrible support, my account crashed again :(",
        ] {
            let s = analyze(text);
            assert_eq!(s.label, Label::Negative, "{text}: {s:?}");
            assert!(s.score < -0.4, "{text}: {s:?}");
            assert!(s.negative > 0, "{text}: {s:?}");
        }
    }

    #[test]
    fn neutral() {
        for text in [
            "The meeting is at 3pm in room 4",
            "We are shipping version 2.1 on Tuesday",
            "",
            "   ",
            "!!!",
        ] {
            let s = analyze(text);
            assert_eq!(s.label, Label::Neutral, "{text:?}: {s:?}");
        }
        let empty = analyze("");
        assert_eq!(
            empty,
            Sentiment {
                score: 0.0,
                label: Label::Neutral,
                positive: 0,
                negative: 0
            }
        );
        assert_eq!(
            serde_json::to_value(&empty).unwrap(),
            json!({"score": 0.0, "label": "neutral", "positive": 0, "negative": 0})
        );
    }

    #[test]
    fn negation_flips() {
        assert!(score("The app is good") > 0.0);
        assert!(score("The app is not good") < 0.0);
        assert!(score("The app isn't good") < 0.0);
        assert!(score("The app isn’t good") < 0.0);
        assert!(score("This is not bad at all") > 0.0);
        assert!(score("I never liked it") < 0.0);
        assert!(score("It doesnt work well and I dont love it") < 0.0);
        // The window is three words.
        assert!(score("not that I think it is good") > 0.0);
        // and does not cross a clause.
        assert!(score("no, it is great") > 0.0);
    }

    #[test]
    fn intensifiers_raise_magnitude() {
        assert!(score("very good") > score("good"));
        assert!(score("extremely bad") < score("bad"));
        assert!(score("really so great") > score("great"));
        assert!(score("slightly good") < score("good"));
        assert!(score("kind of good") < score("good"));
    }

    #[test]
    fn emphasis() {
        assert!(score("This is great!!!") > score("This is great"));
        assert!(score("This is terrible!!") < score("This is terrible"));
        assert!(score("This is GREAT") > score("This is great"));
        // All-caps text has no differential.
        assert_eq!(score("THIS IS GREAT"), score("this is great"));
    }

    #[test]
    fn but_clause_dominates() {
        assert!(score("The design is great but the app is terrible") < 0.0);
        assert!(score("The app crashed once but support was amazing") > 0.0);
        assert!(score("Good idea, but slow") < score("Good idea, and slow"));
    }

    #[test]
    fn emoji_and_emoticons() {
        assert!(score("❤️") > 0.5);
        assert!(score("new release😍😍") > 0.5);
        assert!(score("😡") < -0.5);
        assert!(score(":(") < 0.0);
        assert!(score(":D") > 0.0);
        assert!(score("👍🏽") > 0.0);
    }

    #[test]
    fn design_example_angry_mention() {
        let s = analyze("This update is terrible, the app keeps crashing and support never answers");
        assert!(s.score < -0.3, "{s:?}");
        assert_eq!(s.label, Label::Negative);
        assert_eq!(s.negative, 2);
    }

    #[test]
    fn inflections() {
        assert!(score("it crashes") < 0.0);
        assert!(score("so many glitches") < 0.0);
        assert!(score("hated it") < 0.0);
    }

    #[test]
    fn truncation_keeps_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }

    #[tokio::test]
    async fn action_outputs_score_label_and_counts() {
        let (ctx, log) = ActionContext::for_test(json!({"text": "I love it"}));
        let Outcome::Completed(out) = AnalyzeSentiment.execute(ctx).await.unwrap() else {
            panic!("must complete");
        };
        assert_eq!(out["label"], "positive");
        assert_eq!(out["positive"], 1);
        assert_eq!(out["negative"], 0);
        let s = out["score"].as_f64().unwrap();
        assert_eq!((s * 10_000.0).round() / 10_000.0, s);
        assert!(log.lines().is_empty());

        let long = "great ".repeat(30_000);
        let (ctx, log) = ActionContext::for_test(json!({ "text": long }));
        assert!(AnalyzeSentiment.execute(ctx).await.is_ok());
        assert_eq!(log.lines().len(), 1);
        assert_eq!(log.lines()[0].0, LogLevel::Warn);

        for bad in [
            json!({}),
            json!({"text": 5}),
            json!({"text": "x", "extra": 1}),
            json!("x"),
        ] {
            let (ctx, _) = ActionContext::for_test(bad);
            let e = AnalyzeSentiment.execute(ctx).await.unwrap_err();
            assert!(!e.is_retryable());
            assert!(e.to_string().contains("invalid ANALYZE_SENTIMENT config"), "{e}");
        }
    }

    proptest! {
        #[test]
        fn score_is_always_within_bounds(text in ".{0,400}") {
            let s = analyze(&text);
            prop_assert!((-1.0..=1.0).contains(&s.score));
            prop_assert_eq!(s.label, Label::of(s.score));
        }

        #[test]
        fn score_is_bounded_for_word_soup(words in proptest::collection::vec(
            proptest::sample::select(vec![
                "love", "hate", "not", "very", "but", "GREAT", "terrible", "!", "!!!", ":)", "😡",
                "never", "so", "good", "bad", "kind", "of", ",", "the", "app", "BROKEN", "❤️",
            ]),
            0..200,
        )) {
            let text = words.join(" ");
            let s = analyze(&text);
            prop_assert!((-1.0..=1.0).contains(&s.score), "{} -> {:?}", text, s);
            prop_assert!(s.positive + s.negative <= words.len() * 2);
        }
    }
}
