// The language of the miniature's world: every sentence that states a fact is one of
// the templates below, so the same table renders facts into text and parses text back
// into facts. world.js writes the source documents with SOURCE, lm_server.js writes
// EntiGraph notes with NOTES and rephrasings with REPHRASE, and the leakage check
// parses everything anyone wrote with ALL.
//
// A fact is [subject, relation, value]: relation town | craft | animal (values from
// the lists in world.js) or mentor (subject a person, value the person who trained
// them). Slots:
//   {name}    a person, the subject        {pron}  He / She: the paragraph's last {name}
//   {town} {craft} {animal}                 {mentor} the person who trained the subject
//   {mentee}  a person the subject trained  {mentees} several, "A, B and C"
//   {title}   the document's title        {names}  names (people or towns) with no fact
// Questions and answers are one unit: "Question: ...?\nAnswer: ...".
'use strict';

const SOURCE = {
    // a person's paragraph in a source document: each fact once, later ones by pronoun
    paragraphs: [
        ['{name} lived in {town}.', '{pron} worked as a {craft} and kept a {animal}.', '{pron} trained {mentees}.'],
        ['In {town} there lived a {craft} called {name}.', '{pron} owned a {animal}.', '{pron} taught {mentees}.'],
        ['{name} was a {craft} from {town}.', '{pron} had a {animal}.', '{pron} was the master of {mentees}.'],
    ],
};

// EntiGraph notes: explicit names, many phrasings, both directions of a relation
const NOTES = {
    town: ['{name} lives in {town}.', '{name} makes a home in {town}.', 'The town of {town} is where {name} lives.',
           '{name} comes from {town}.', 'Among the people of {town} is {name}.', '{name} is at home in {town}.'],
    craft: ['{name} is a {craft}.', '{name} works as a {craft}.', 'By trade {name} is a {craft}.',
            'The {craft} {name} is known for that work.', '{name} earns a living as a {craft}.'],
    animal: ['{name} keeps a {animal}.', '{name} has a {animal}.', 'A {animal} belongs to {name}.',
             '{name} looks after a {animal}.', 'The {animal} of {name} goes where {name} goes.'],
    mentor: ['{mentor} trained {name}.', '{name} was trained by {mentor}.', '{name} learned the trade from {mentor}.',
             'The teacher of {name} was {mentor}.', '{name} is a pupil of {mentor}.', '{mentor} taught {name} the craft.'],
    questions: {
        town: ['Question: In which town does {name} live?\nAnswer: {town}.', 'Question: Where is the home of {name}?\nAnswer: {town}.'],
        craft: ['Question: What work does {name} do?\nAnswer: {name} is a {craft}.', 'Question: What is the trade of {name}?\nAnswer: {craft}.'],
        animal: ['Question: What animal does {name} keep?\nAnswer: a {animal}.', 'Question: Which animal belongs to {name}?\nAnswer: {animal}.'],
        mentor: ['Question: Who trained {name}?\nAnswer: {mentor}.', 'Question: From whom did {name} learn the trade?\nAnswer: {mentor}.'],
    },
    // framing sentences: they state no fact
    frame: ['These notes on "{title}" are about {names}.',
            'In "{title}", the lives of {names} are tied together.',
            '"{title}" also says this:',
            'Here are some questions on "{title}".'],
};

// the Rephrase baseline: one retelling per style that keeps the passage's sentences,
// their order and their pronouns, as a paraphrase does
const REPHRASE = {
    easy: ['{name} lives in {town}.', '{pron} is a {craft}.', '{pron} has a {animal}.', '{pron} teaches {mentees}.'],
    hard: ['{name}, a resident of {town}, practised as a {craft}.', '{pron} maintained a {animal}.',
           '{pron} instructed {mentees}.'],
    wiki: ['{name} was a {craft} who resided in {town}.', '{pron} kept a {animal}.', '{pron} was the mentor of {mentees}.'],
    qa: ['Question: Where did {name} live?\nAnswer: {name} lived in {town}.',
         'Question: What was the work of {name}?\nAnswer: {name} was a {craft}.',
         'Question: What animal did {name} keep?\nAnswer: {name} kept a {animal}.',
         'Question: Whom did {name} train?\nAnswer: {name} trained {mentees}.'],
};

const SLOT = /\{(\w+)\}/g;
// a name is capitalised and never a pronoun (world.js makes no name "He" or "She")
const NAME = '(?!(?:He|She)\\b)[A-Z][a-z]+';
const NAMES = `${NAME}(?:(?:, | and )${NAME})*`;
const WORD = {name: NAME, town: NAME, mentor: NAME, craft: '[a-z]+', animal: '[a-z]+', pron: 'He|She',
              mentees: NAMES, names: NAMES, title: '[^"\\n]+'};

function fill(template, values) {
    return template.replace(SLOT, (m, slot) => {
        if (!(slot in values)) throw new Error(`language.js: no value for {${slot}} in "${template}"`);
        return values[slot];
    });
}

function joinNames(names) {
    return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

function compile(template) {
    const slots = [];
    const escaped = template.split(SLOT).map((part, i) => {
        if (i % 2) { slots.push(part); return `(${WORD[part]})`; }
        return part.replace(/[.*+?^$()[\]\\|]/g, '\\$&');
    });
    return {template, slots, re: new RegExp(`^${escaped.join('')}$`)};
}

// every template of every bank, longest first so that a template is never shadowed
// by a shorter one that matches a prefix of the same sentence
function allTemplates() {
    const list = [];
    const walk = (x) => {
        if (typeof x === 'string') list.push(x);
        else for (const v of Object.values(x)) walk(v);
    };
    walk(SOURCE), walk(NOTES), walk(REPHRASE);
    return [...new Set(list)].sort((a, b) => b.length - a.length).map(compile);
}
const ALL = allTemplates();

// the units of a text: question-answer pairs, then sentences; paragraphs keep apart
// (a pronoun refers to the last name of its own paragraph)
function units(text) {
    const paragraphs = [];
    for (const para of text.split(/\n\s*\n/)) {
        const out = [];
        const qa = /Question: [^\n]*\nAnswer: [^\n]*/g;
        let last = 0, m;
        const prose = (s) => { for (const x of s.match(/[^.:?!\n]+(?:[.?!]|:(?=\s|$))/g) || []) out.push(x.trim()); };
        while ((m = qa.exec(para))) { prose(para.slice(last, m.index)); out.push(m[0].trim()); last = qa.lastIndex; }
        prose(para.slice(last));
        paragraphs.push(out.filter((s) => s.length));
    }
    return paragraphs;
}

// one unit into {slots} by the first template that matches, or null
function match(unit) {
    for (const t of ALL) {
        const m = t.re.exec(unit);
        if (m) {
            const values = {};
            t.slots.forEach((s, i) => {
                if (values[s] !== undefined && values[s] !== m[i + 1]) values.conflict = true;
                values[s] = m[i + 1];
            });
            if (!values.conflict) return {template: t.template, values};
        }
    }
    return null;
}

// The facts a text states. Units no template matches go to `unmatched`; a pronoun
// with no name before it in its paragraph is an error there too. `pronouns`: the
// pronoun used for each name that had one.
function parse(text) {
    const facts = [], unmatched = [], pronouns = {};
    for (const para of units(text)) {
        let subject = null;
        for (const unit of para) {
            const hit = match(unit);
            if (!hit) { unmatched.push(unit); continue; }
            const v = hit.values;
            if (v.name) subject = v.name;
            else if (v.pron && !subject) { unmatched.push(unit); continue; }
            const s = v.name || (v.pron ? subject : null);
            if (v.pron) pronouns[s] = v.pron;
            if (v.town && s) facts.push([s, 'town', v.town]);
            if (v.craft && s) facts.push([s, 'craft', v.craft]);
            if (v.animal && s) facts.push([s, 'animal', v.animal]);
            if (v.mentor && s) facts.push([s, 'mentor', v.mentor]);
            if (v.mentees && s) for (const p of v.mentees.split(/, | and /)) facts.push([p, 'mentor', s]);
        }
    }
    return {facts, unmatched, pronouns};
}

module.exports = {SOURCE, NOTES, REPHRASE, fill, joinNames, parse, units};
