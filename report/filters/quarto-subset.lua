-- quarto-subset.lua: the part of Quarto's Markdown the report uses, for
-- rendering with pandoc alone (the offline renderer, dnmarkets.report.engines,
-- docs/report_rendering.md). Quarto itself does not use this file.
local is_html = FORMAT:match('^html') ~= nil
local is_typst = FORMAT == 'typst'
local meta = {}

local function ptype(v) return pandoc.utils.type(v) end

local function lookup(key)
  local node = meta
  for part in key:gmatch('[^.]+') do
    local t = ptype(node)
    if t ~= 'Meta' and t ~= 'table' then return nil end
    node = node[part]
    if node == nil then return nil end
  end
  return node
end

local falsy = {[''] = true, ['false'] = true, ['no'] = true, ['0'] = true}
local function truthy(v)
  if v == nil then return false end
  local t = ptype(v)
  if t == 'boolean' then return v end
  if t == 'string' or t == 'Inlines' or t == 'Blocks' then
    return not falsy[pandoc.utils.stringify(v):lower()]
  end
  if t == 'List' then return #v > 0 end
  if t == 'table' or t == 'Meta' then return next(v) ~= nil end
  return true
end

-- "pdf" means the PDF we make (Typst); Quarto's html aliases.
local function format_matches(name)
  name = name:lower()
  if is_html then
    return name == 'html' or name == 'html5' or name == 'html4' or name == 'html:js'
  end
  if is_typst then return name == 'typst' or name == 'pdf' end
  return name == FORMAT
end

local condition_keys = {'when-format', 'unless-format', 'when-meta', 'unless-meta',
                        'when-profile', 'unless-profile'}

local function conditional(el)
  local show = el.classes:includes('content-visible')
  local hide = el.classes:includes('content-hidden')
  if not show and not hide then return nil end
  local a = el.attributes
  local match = true
  if a['when-format'] then match = match and format_matches(a['when-format']) end
  if a['unless-format'] then match = match and not format_matches(a['unless-format']) end
  if a['when-meta'] then match = match and truthy(lookup(a['when-meta'])) end
  if a['unless-meta'] then match = match and not truthy(lookup(a['unless-meta'])) end
  if a['when-profile'] then match = false end  -- no profile is active
  local visible
  if show then visible = match else visible = not match end
  if not visible then return {} end
  for _, k in ipairs(condition_keys) do a[k] = nil end
  el.classes = el.classes:filter(function(c)
    return c ~= 'content-visible' and c ~= 'content-hidden'
  end)
  if el.t == 'Div' then return el.content end
  return el
end

local function typst_inlines(inlines)
  local s = pandoc.write(pandoc.Pandoc({pandoc.Plain(inlines)}), 'typst')
  return (s:gsub('%s+$', ''))
end

local callout_titles = {note = 'Note', tip = 'Tip', warning = 'Warning',
                        caution = 'Caution', important = 'Important'}

local function callout(div)
  if div.classes:includes('pagebreak') then
    if is_typst then return pandoc.RawBlock('typst', '#pagebreak()') end
    return nil
  end
  local kind
  for _, c in ipairs(div.classes) do
    local k = c:match('^callout%-(%a+)$')
    if k and callout_titles[k] then kind = k; break end
  end
  if not kind then return nil end
  local content = pandoc.Blocks(div.content)
  local title
  if div.attributes['title'] then
    title = pandoc.utils.blocks_to_inlines(pandoc.read(div.attributes['title'], 'markdown').blocks)
  elseif #content > 0 and content[1].t == 'Header' then
    title = content[1].content
    content:remove(1)
  else
    title = pandoc.Inlines(callout_titles[kind])
  end
  if is_typst then
    local blocks = pandoc.Blocks({pandoc.RawBlock('typst',
      '#callout(kind: "' .. kind .. '", title: [' .. typst_inlines(title) .. '])[')})
    blocks:extend(content)
    blocks:insert(pandoc.RawBlock('typst', ']'))
    return blocks
  end
  return pandoc.Div({
    pandoc.Div({pandoc.Plain(title)}, pandoc.Attr('', {'qcallout-title'})),
    pandoc.Div(content, pandoc.Attr('', {'qcallout-body'})),
  }, pandoc.Attr(div.identifier, {'qcallout', 'qcallout-' .. kind}))
end

-- Raw HTML is never passed through: comments are dropped, anything else is text.
local function html_comment(text) return text:match('^%s*<!%-%-.*%-%->%s*$') ~= nil end
local function raw_inline(el)
  if not el.format:match('^html') then return nil end
  if html_comment(el.text) then return {} end
  return pandoc.Str(el.text)
end
local function raw_block(el)
  if not el.format:match('^html') then return nil end
  if html_comment(el.text) then return {} end
  return pandoc.Para({pandoc.Str(el.text)})
end

local kind_names = {fig = 'Figure', tbl = 'Table', sec = 'Section'}

local function prefix_caption(el, text)
  local caption = el.caption
  local long = pandoc.Blocks(caption.long)
  local first = long[1]
  if first and (first.t == 'Plain' or first.t == 'Para') then
    local inl = pandoc.Inlines(text)
    inl:insert(pandoc.Space())
    inl:extend(first.content)
    first.content = inl
    long[1] = first
  else
    long:insert(1, pandoc.Plain(pandoc.Inlines(text)))
  end
  caption.long = long
  el.caption = caption
end

-- Typst: pandoc's writer drops an image's alt text, which PDF/UA-1 requires
-- (the compile fails without it): the image call is written with `alt:`.
local function typst_string(s)
  return '"' .. s:gsub('\\', '\\\\'):gsub('"', '\\"') .. '"'
end
local function typst_image(img, in_figure)
  local call = 'image(' .. typst_string(img.src)
  local alt = pandoc.utils.stringify(img.caption)
  if alt ~= '' then call = call .. ', alt: ' .. typst_string(alt) end
  call = call .. ')'
  if in_figure then return pandoc.RawInline('typst', '#' .. call) end
  return pandoc.RawInline('typst', '#box(' .. call .. ')')  -- as pandoc writes an inline image
end

-- Figures, tables and headings by label: kind, number (if numbered), title.
local function collect_labels(doc)
  local number_sections = truthy(doc.meta['number-sections'])
  local labels = {}
  local levels = {0, 0, 0, 0, 0, 0}
  local count = {fig = 0, tbl = 0}
  local function add(id, info)
    if id == '' then return end
    if labels[id] and id:match('^%a+%-') and kind_names[id:match('^(%a+)%-')] then
      error('duplicate cross-reference label #' .. id)
    end
    labels[id] = info
  end
  doc:walk({
    traverse = 'topdown',
    Header = function(h)
      if h.classes:includes('unnumbered') then
        add(h.identifier, {kind = 'sec', title = h.content})
        return nil
      end
      levels[h.level] = levels[h.level] + 1
      for i = h.level + 1, #levels do levels[i] = 0 end
      local parts = {}
      for i = 1, h.level do parts[#parts + 1] = tostring(levels[i]) end
      add(h.identifier, {kind = 'sec', title = h.content,
                         number = number_sections and table.concat(parts, '.') or nil})
    end,
    Figure = function(f)
      if f.identifier:match('^fig%-') then
        count.fig = count.fig + 1
        add(f.identifier, {kind = 'fig', number = tostring(count.fig)})
      end
    end,
    Table = function(t)
      if t.identifier:match('^tbl%-') then
        count.tbl = count.tbl + 1
        add(t.identifier, {kind = 'tbl', number = tostring(count.tbl)})
      end
    end,
  })
  return labels
end

-- The text of a reference to label `id`: a Typst ref/link or an HTML link.
local function ref_inlines(id, info, suppress)
  local text
  if info.number then
    if suppress then text = pandoc.Inlines(info.number)
    else text = pandoc.Inlines(kind_names[info.kind] .. ' ' .. info.number) end
  else
    text = pandoc.Inlines(info.title)
  end
  if is_typst then
    if info.number and not suppress then
      return pandoc.Inlines({pandoc.RawInline('typst', '#ref(label("' .. id .. '"));')})
    end
    return pandoc.Inlines({pandoc.RawInline('typst',
      '#link(label("' .. id .. '"))[' .. typst_inlines(text) .. '];')})
  end
  return pandoc.Inlines({pandoc.Link(text, '#' .. id, '', pandoc.Attr('', {'quarto-xref'}))})
end

-- Cross-references: @fig-x, @tbl-x, @sec-x become links; labelled captions get
-- their number (HTML; Typst numbers them itself).
local function crossref(doc)
  local labels = collect_labels(doc)
  return doc:walk({
    Cite = function(c)
      for _, cit in ipairs(c.citations) do
        local prefix = cit.id:lower():match('^(%a+)%-')
        if not (prefix and kind_names[prefix]) then return c.content end  -- not a cross-ref
      end
      local out = pandoc.Inlines({})
      for i, cit in ipairs(c.citations) do
        local id = cit.id:sub(1, 1):lower() .. cit.id:sub(2)
        local info = labels[id]
        if not info then
          error('cross-reference @' .. cit.id ..
                ': no figure, table or section is labelled #' .. id)
        end
        if i > 1 then out:extend({pandoc.Str(','), pandoc.Space()}) end
        if #cit.prefix > 0 then
          out:extend(cit.prefix)
          out:insert(pandoc.Space())
        end
        out:extend(ref_inlines(id, info, cit.mode == 'SuppressAuthor'))
        out:extend(cit.suffix)
      end
      return out
    end,
    Figure = function(f)
      f = f:walk({Image = function(img)
        local alt = img.attributes['fig-alt']
        if alt then
          img.attributes['fig-alt'] = nil
          img.caption = pandoc.Inlines(alt)
          return img
        end
      end})
      local info = labels[f.identifier]
      if info and info.kind == 'fig' then
        if is_html then prefix_caption(f, 'Figure ' .. info.number .. ':') end
        if is_typst then
          f = f:walk({Image = function(img) return typst_image(img, true) end})
        end
        return f
      end
      if is_typst then  -- Typst would number it; Quarto does not number unlabelled figures
        local blocks = pandoc.Blocks(f.content)
        local cap = pandoc.utils.blocks_to_inlines(f.caption.long)
        if #cap > 0 then blocks:insert(pandoc.Para({pandoc.Emph(cap)})) end
        return pandoc.Div(blocks)
      end
      return f
    end,
    Table = function(t)
      local info = labels[t.identifier]
      if info and info.kind == 'tbl' then
        if #t.caption.long == 0 then error('table #' .. t.identifier .. ' has no caption') end
        if is_html then prefix_caption(t, 'Table ' .. info.number .. ':') end
        return t
      end
      if is_typst then
        -- pandoc writes every table as a Typst figure of kind table, and Typst
        -- numbers each: an unlabelled table (Quarto leaves it unnumbered) would
        -- take a number and the labelled ones after it would skip one
        local blocks = pandoc.Blocks({pandoc.RawBlock('typst', '#[#set figure(numbering: none)')})
        if #t.caption.long > 0 then
          local cap = pandoc.utils.blocks_to_inlines(t.caption.long)
          local caption = t.caption
          caption.long = pandoc.Blocks({})
          t.caption = caption
          blocks:insert(pandoc.Para({pandoc.Emph(cap)}))
        end
        blocks:insert(t)
        blocks:insert(pandoc.RawBlock('typst', ']'))
        return blocks
      end
    end,
  })
end

-- HTML: a "Data (CSV)" link at the end of every figure's and table's caption, to the
-- CSV of its numbers beside the report (data/...; written by dnmarkets.report.web,
-- which fails the render when one is missing). A figure's CSV is the one its notebook
-- wrote next to the image (assets/<dataset>/<notebook>/<name>.csv -> data/<dataset>/
-- <notebook>/<name>.csv); a table's is written from the table as shown
-- (data/tables/<label>.csv, or table-<n>.csv for the n-th table without a label).
local function data_link(href)
  -- a no-break space: the link's text never breaks across lines
  return pandoc.Span({pandoc.Link({pandoc.Str('Data\u{A0}(CSV)')}, href)},
                     pandoc.Attr('', {'data-link'}))
end

local function append_to_caption(el, inline)
  local caption = el.caption
  local long = pandoc.Blocks(caption.long)
  local last = long[#long]
  if last and (last.t == 'Plain' or last.t == 'Para') then
    last.content:insert(pandoc.Space())
    last.content:insert(inline)
  else
    long:insert(pandoc.Plain({inline}))
  end
  caption.long = long
  el.caption = caption
  return el
end

local function data_links(doc)
  local unlabelled = 0
  return doc:walk({
    Figure = function(f)
      local src
      f.content:walk({Image = function(img) src = src or img.src end})
      if not src then return nil end
      local rel = src:gsub('^assets/', ''):gsub('%.[^./]+$', '.csv')
      return append_to_caption(f, data_link('data/' .. rel))
    end,
    Table = function(t)
      local name = t.identifier
      if name == '' then
        unlabelled = unlabelled + 1
        name = 'table-' .. unlabelled
      end
      return append_to_caption(t, data_link('data/tables/' .. name .. '.csv'))
    end,
  })
end

-- One minus sign in both outputs: a hyphen that starts a number ("-5", "(-5",
-- "to -5") is the minus sign U+2212, as matplotlib draws it on the figures.
-- (Typst would turn only some into minus signs, after a space but not after "(".)
-- A hyphen inside a word or between digits (2017-01-05, 1-2) stays a hyphen.
local MINUS = '\u{2212}'
local function minus_signs(s)
  if not s.text:find('-%d') then return nil end
  local text = s.text:gsub('^%-(%d)', MINUS .. '%1')
  text = text:gsub('([^%w%-])%-(%d)', '%1' .. MINUS .. '%2')
  if text == s.text then return nil end
  return pandoc.Str(text)
end

-- Typst shorthands pandoc does not escape: "..." (ellipsis) and "-?" (soft hyphen).
local function typst_str(s)
  if not (s.text:find('...', 1, true) or s.text:find('-?', 1, true)) then return nil end
  local raw = typst_inlines({s})
  raw = raw:gsub('%.%.%.', '.\\.\\.')
  raw = raw:gsub('%-%?', '-\\?')
  return pandoc.RawInline('typst', raw)
end

-- Accessibility of the HTML page (checked with axe-core: tools/a11y/axe_check.py).
-- A table wider than the screen scrolls inside a region named by its caption
-- that takes keyboard focus, so it can be scrolled without a mouse (WCAG 2.1.1);
-- the table itself stays a table (display: block would lose its semantics).
local function scroll_table(t)
  -- the region is named by the caption, without the "Data (CSV)" link
  local caption = t.caption.long:walk({Span = function(s)
    if s.classes:includes('data-link') then return {} end
  end})
  local name = pandoc.utils.stringify(caption):gsub('%s+$', '')
  if name == '' then name = 'Table' end
  return pandoc.Div({t}, pandoc.Attr('', {'table-scroll'},
    {{'tabindex', '0'}, {'role', 'region'}, {'aria-label', name}}))
end
-- The document's body is the page's main landmark, after the title block
-- (header) and the table of contents (nav) that pandoc's template writes.
local function main_landmark(doc)
  doc.blocks:insert(1, pandoc.RawBlock('html', '<main>'))
  doc.blocks:insert(pandoc.RawBlock('html', '</main>'))
  return doc
end

return {
  {Meta = function(m) meta = m end},
  {Div = conditional, Span = conditional, CodeBlock = conditional},
  {Div = callout},
  {RawInline = raw_inline, RawBlock = raw_block},
  {Pandoc = crossref},
  {Str = minus_signs},
  is_typst and {Str = typst_str} or {},
  is_html and {Pandoc = data_links} or {},
  is_typst and {Image = function(img) return typst_image(img, false) end} or {},
  is_html and {Table = scroll_table} or {},
  is_html and {Pandoc = main_landmark} or {},
}
